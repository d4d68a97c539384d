"""Customer alerts' cost to status evaluation: the status engine with every alert rule on
against every rule off.

The status bench's data (bench/status.py's seeding: trackers in production runs, places
around cities, a warm engine state and a batch of new reports, half of which move a tracker)
and MEMBERS members of its client, each subscribed to every run, immediately. Each round
times, in a transaction that is then rolled back,

* the engine evaluating the new batch (with rules on it also writes the customer events:
  arrived, left, delivered, moved after delivery; with rules off only status changes), then
* the fan-out turning every new event into notifications until none is left (in production
  a Celery task after the engine's commit, in its own transaction),

once with the client's alert rule on for every event type and once with every type off (the
fan-out then only marks the events looked at). Rounds alternate; the best of each counts.
The ratio is the status evaluation's (rules off / rules on): what alerts add to it; the
fan-out's share is printed beside it (`with_fan_out`: engine and fan-out together). The
e-mails are not timed: they go out later, one per person, whatever the storm.

Run against a database of its own (it replaces the data there):
    createdb -h 127.0.0.1 -U postgres bench_alerts
    psql -h 127.0.0.1 -U postgres -d bench_alerts -c 'CREATE EXTENSION postgis'
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/bench_alerts .venv/bin/python bench/alerts.py
The last line is `RESULT alerts ratio=<engine time with rules off / with rules on>`, then the
figures and `with_fan_out=<the same for engine and fan-out together>`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

TARGET = 0.7  # make bench: the ratio this bench must reach

sys.path.insert(0, str(Path(__file__).resolve().parent))

import status  # noqa: E402  (sets up Django, as every bench does)
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from geofencing import services  # noqa: E402
from tracking import alerts  # noqa: E402
from tracking.models import (  # noqa: E402
    AlertRule,
    AlertSubscription,
    Client,
    Event,
    Membership,
    Notification,
)


def members(count: int) -> Client:
    """`count` members of the bench's client, each following every run immediately."""
    client = Client.objects.get(name="Bench")
    for i in range(count):
        user, _ = get_user_model().objects.get_or_create(
            username=f"bench-member-{i}", defaults={"email": f"member{i}@example.com"}
        )
        Membership.objects.get_or_create(user=user, client=client, defaults={"role": "VIEWER"})
        AlertSubscription.objects.update_or_create(
            user=user, client=client, defaults={"delivery": "IMMEDIATE", "all_runs": True}
        )
    return client


def set_rules(client: Client, *, on: bool) -> None:
    AlertRule.objects.update_or_create(
        client=client,
        defaults={"event_types": list(Event.Type.values) if on else [], "all_runs": True},
    )


def engine_and_fan_out() -> tuple:
    t0 = time.perf_counter()
    evaluation = services.evaluate_statuses()
    engine_seconds = time.perf_counter() - t0
    events = notifications = 0
    while True:
        fan_out = alerts.notifications_fan_out()
        if not fan_out.events:
            break
        events += fan_out.events
        notifications += fan_out.notifications
    with connection.cursor() as c:
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks a commit would run
    return evaluation.transitions, events, notifications, engine_seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=20_000)
    parser.add_argument("--places", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--reports", type=int, default=3, help="new reports per tracker")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data of an earlier run of this size"
    )
    args = parser.parse_args()

    status.guard_database()
    call_command("migrate", verbosity=0)
    low = args.trackers * args.reports
    if not (args.reuse and status.built_already(args, low)):
        rng = random.Random(7)
        state: dict = {}
        t0 = time.perf_counter()
        with connection.cursor() as c:
            c.execute(
                f"TRUNCATE {Notification._meta.db_table}, {Event._meta.db_table},"
                f" {AlertRule._meta.db_table} CASCADE"
            )
        status.build(args, rng, state)
        warm = services.evaluate_statuses()  # the state before the timed batch
        assert warm.high_water == low, warm
        with transaction.atomic(), connection.cursor() as c:
            status.copy_reports(c, args, rng, state, batch=1)
            c.execute(f"UPDATE {Event._meta.db_table} SET notified_at = now()")
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE tracking_locationreport")
            c.execute("VACUUM ANALYZE tracking_tracker")
            c.execute(f"VACUUM ANALYZE {Event._meta.db_table}")
        seconds = time.perf_counter() - t0
        print(f"built {args.trackers:,} trackers, {args.places:,} places, {args.reports} old"
              f" and {args.reports} new reports per tracker in {seconds:.1f}s")  # fmt: skip
    client = members(args.members)

    timings: dict[bool, list[float]] = {True: [], False: []}
    engine: dict[bool, list[float]] = {True: [], False: []}
    for i in range(args.rounds):
        for on in (True, False):
            set_rules(client, on=on)
            status.vacuum_rolled_back()
            with connection.cursor() as c:
                for model in (Event, Notification):
                    c.execute(f"VACUUM {model._meta.db_table}")
            seconds, (changes, events, notifications, engine_seconds) = (
                status.timed_and_rolled_back(engine_and_fan_out)
            )
            timings[on].append(seconds)
            engine[on].append(engine_seconds)
            print(f"round {i + 1}: rules {'on ' if on else 'off'}: engine {engine_seconds:.2f}s,"
                  f" with the fan-out {seconds:.2f}s"
                  f"  {changes:,} status changes, {events:,} events,"
                  f" {notifications:,} notifications for {args.members} members")  # fmt: skip

    on, off = min(engine[True]), min(engine[False])
    total_on, total_off = min(timings[True]), min(timings[False])
    print(f"status engine: rules on {on:.2f}s  rules off {off:.2f}s")
    print(f"engine + fan-out: rules on {total_on:.2f}s  rules off {total_off:.2f}s")
    print(f"RESULT alerts ratio={off / on:.3f} on={on:.2f}s off={off:.2f}s"
          f" with_fan_out={total_off / total_on:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()

"""Customer portal speed: the app served by gunicorn, the pages a customer opens most.

10,000 trackers (10 production runs of 1,000) with 1,000,000 reports over the last 7 days
(100 per tracker) in one client, the same data bench/api.py builds, plus two places per run
(delivery and storage) and three status changes per tracker over the last week. One customer,
an ADMIN of that client, with a logged-in session cookie. Each page is loaded by CONCURRENCY
threads making a fixed number of requests:

* dashboard: GET / (status counts, the map of every tracker, last week's changes, silent ones);
* tracker list: GET /trackers/ at a random page;
* run page: GET /runs/<id>/ of a random run (1,000 trackers, its places);
* tracker page: GET /trackers/<id>/history/?days=30 of a random tracker.

The limit measured in the same run is /healthz (the whole stack, no data): the ratio is its
p50 over the p50 of the slowest of the four pages (1.0: a page costs no more than the stack).

Run against a database of its own (it replaces the data there):
    createdb -h 127.0.0.1 -U postgres bench_portal
    psql -h 127.0.0.1 -U postgres -d bench_portal -c 'CREATE EXTENSION postgis'
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/bench_portal .venv/bin/python bench/portal.py
(or `make bench BENCHES=portal`). The last line is
`RESULT portal ratio=<p50 healthz / p50 slowest page> ...` with each page's p50 and p95 and the
errors beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from importlib import import_module
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

import django  # noqa: E402

django.setup()

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would cost more
from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.urls import reverse  # noqa: E402

from bench import api as api_bench  # noqa: E402
from bench._served import free_port, load, start_gunicorn, summary  # noqa: E402
from tracking.models import Client, Membership, ProductionRun  # noqa: E402

TARGET = 0.2
CONCURRENCY = 4
ROUNDS = 5  # each page's requests are spread over this many rounds


def build(trackers: int, reports_per_tracker: int) -> None:
    """bench/api.py's trackers and reports, then places and status history, set-based."""
    api_bench.build(trackers, reports_per_tracker)
    with transaction.atomic(), connection.cursor() as c:
        c.execute("TRUNCATE geofencing_statushistory, geofencing_place CASCADE")
        # A delivery and a storage place per run, in the area the reports fall in (Vienna).
        c.execute(
            """
            INSERT INTO geofencing_place (client_id, kind, name, address, point, radius_m,
                                          created_at)
            SELECT 1, kind, kind || ' of run ' || r.id, '',
                   ST_SetSRID(ST_MakePoint(16.2 + r.id * 0.02 + k * 0.01, 48.15 + k * 0.05),
                              4326)::geography,
                   300, now()
            FROM tracking_productionrun r,
                 (VALUES (0, 'DELIVERY'), (1, 'STORAGE')) AS kinds(k, kind)
            """
        )
        c.execute(
            "INSERT INTO geofencing_place_production_runs (place_id, productionrun_id)"
            " SELECT p.id, r.id FROM geofencing_place p"
            " JOIN tracking_productionrun r ON p.name LIKE '% of run ' || r.id"
        )
        c.execute(
            """
            INSERT INTO geofencing_statushistory (tracker_id, from_status, to_status, at,
                                                  place_id, report_id, recorded_at)
            SELECT t.id, s.from_status, s.to_status,
                   now() - (7 - s.step * 2) * interval '1 day'
                         - (t.id % 1440) * interval '1 minute',
                   CASE WHEN s.to_status = 'IN_TRANSIT' THEN NULL ELSE p.id END, NULL, now()
            FROM tracking_tracker t
            JOIN geofencing_place p ON p.kind = 'STORAGE'
                 AND p.name = 'STORAGE of run ' || t.production_run_id
            CROSS JOIN (VALUES (1, 'UNKNOWN', 'IN_STORAGE'), (2, 'IN_STORAGE', 'IN_TRANSIT'),
                               (3, 'IN_TRANSIT', 'IN_STORAGE')) AS s(step, from_status,
                                                                     to_status)
            """
        )
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE geofencing_statushistory")
        c.execute("VACUUM ANALYZE geofencing_place")


def session_cookie() -> dict:
    """A logged-in session of the client's admin, stored as the app stores sessions."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-customer")
    client = Client.objects.get(name="Bench")
    Membership.objects.get_or_create(user=user, client=client, role=Membership.Role.ADMIN)
    with connection.cursor() as c:
        # Autovacuum analyzes a table after 50 changed rows: a fresh one-row membership table
        # would have no statistics, and the planner would misjudge every page's scoping
        # subquery (client_id IN the user's memberships) as a rare filter.
        c.execute("ANALYZE tracking_membership")
    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return {settings.SESSION_COOKIE_NAME: session.session_key}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=10_000)
    parser.add_argument("--reports-per-tracker", type=int, default=100)
    parser.add_argument("--requests", type=int, default=200, help="per page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--reuse", action="store_true", help="keep data of an earlier run")
    args = parser.parse_args()

    api_bench.guard_database()
    call_command("migrate", verbosity=0)
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM tracking_locationreport")
        have = c.fetchone()[0]
    if not (args.reuse and have == args.trackers * args.reports_per_tracker):
        started = time.perf_counter()
        build(args.trackers, args.reports_per_tracker)
        print(f"built {args.trackers:,} trackers and"
              f" {args.trackers * args.reports_per_tracker:,} reports"
              f" in {time.perf_counter() - started:.1f}s")  # fmt: skip
    auth = {"concurrency": CONCURRENCY, "cookies": session_cookie()}
    runs = list(ProductionRun.objects.order_by("pk").values_list("pk", flat=True))
    trackers = args.trackers
    pages = {
        "dashboard": lambda rng: reverse("portal:dashboard"),
        "tracker list": lambda rng: f"{reverse('portal:tracker-list')}?page={rng.randint(1, 20)}",
        "run page": lambda rng: reverse("portal:run-detail", args=[rng.choice(runs)]),
        "tracker page": lambda rng: (
            reverse("portal:tracker-history", args=[rng.randint(1, trackers)]) + "?days=30"
        ),
    }
    connection.close()

    port = free_port()
    server = start_gunicorn(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        healthz = lambda rng: "/healthz"  # noqa: E731
        for make_path in [healthz, *pages.values()]:  # warm every worker
            load(base, make_path, CONCURRENCY * 3, **auth)
        # In rounds, every page (and /healthz) a share of its requests in each: whatever
        # else the machine does meanwhile weighs on all of them alike.
        paths = {"healthz": healthz, **pages}
        runs_of = {name: [] for name in paths}
        for _ in range(ROUNDS):
            for name, make_path in paths.items():
                runs_of[name].append(load(base, make_path, args.requests // ROUNDS, **auth))
        results = {
            name: summary(
                [ms for r in runs for ms in r["latencies"]],
                [e for r in runs for e in r["error_list"]],
                sum(r["wall"] for r in runs),
            )
            for name, runs in runs_of.items()
        }
    finally:
        server.terminate()
        server.wait(20)

    for name, r in results.items():
        print(f"{name:13} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms"
              f"  {r['rps']:6.1f} req/s  errors {r['errors']}/{r['n']}"
              + (f"  e.g. {r['error_samples']}" if r["errors"] else ""))  # fmt: skip
    slowest = max(pages, key=lambda name: results[name]["p50"])
    ratio = results["healthz"]["p50"] / results[slowest]["p50"]
    errors = sum(r["errors"] for r in results.values())
    figures = " ".join(
        f"{name.replace(' ', '_')}_p50={results[name]['p50']:.1f}ms"
        f" {name.replace(' ', '_')}_p95={results[name]['p95']:.1f}ms"
        for name in ["healthz", *pages]
    )
    print(f"RESULT portal ratio={ratio:.3f} slowest={slowest.replace(' ', '_')} {figures}"
          f" errors={errors}")  # fmt: skip
    if errors:
        sys.exit(f"{errors} requests failed: the ratio does not count")


if __name__ == "__main__":
    main()

"""Partner API speed: the app served by gunicorn, loaded from a bounded generator on 127.0.0.1.

10,000 trackers with 1,000,000 reports over the last 7 days (100 per tracker) in one client.
Three request kinds, each by CONCURRENCY client threads making a fixed number of requests
with an API key (so every request authenticates, is scoped and throttled like a partner's):

* trivial: GET /api/v1/me/ (the whole API stack, one tiny answer);
* tracker list: GET /api/v1/trackers/?limit=100 at a random offset;
* locations page: GET /api/v1/trackers/{id}/locations/?since=...&limit=100 of a random
  tracker over the 7 days (raw reports, first cursor page).

The limit measured in the same run is the trivial endpoint: the ratio is its p50 over the
p50 of the slower of the two real endpoints (1.0: real pages cost no more than the stack).

Run against a database of its own (it replaces the data there):
    createdb -h 127.0.0.1 -U postgres bench_api
    psql -h 127.0.0.1 -U postgres -d bench_api -c 'CREATE EXTENSION postgis'
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api.py
(or `make bench BENCHES=api`). The last line is
`RESULT api ratio=<p50 trivial / p50 slower> ...` with p95, throughput and errors beside it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

import django  # noqa: E402

django.setup()

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would cost more
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from bench._served import free_port, load, start_gunicorn  # noqa: E402
from tracking import services  # noqa: E402
from tracking.models import Client, Membership  # noqa: E402

TARGET = 0.25
CONCURRENCY = 4


def guard_database() -> None:
    name = connection.settings_dict["NAME"]
    if not name.startswith("bench"):
        sys.exit(f"refusing to run against database {name!r}: use a bench_* database")


def build(trackers: int, reports_per_tracker: int) -> None:
    """Fresh data, written set-based in SQL (keys are random bytes: nothing decrypts here)."""
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            "TRUNCATE tracking_webhookdelivery, tracking_webhookendpoint, tracking_event,"
            " tracking_apikey, tracking_membership, tracking_hourlyrollup, tracking_dailyrollup,"
            " tracking_locationreport, tracking_tracker, tracking_productionrun, tracking_brand,"
            " tracking_client RESTART IDENTITY CASCADE"
        )
        c.execute("INSERT INTO tracking_client (name, created_at, silent_after_hours)"
                  " VALUES ('Bench', now(), 24)")  # fmt: skip
        c.execute("INSERT INTO tracking_brand (client_id, name, logo, accent_colour)"
                  " VALUES (1, 'Bench', '', '')")  # fmt: skip
        c.execute(
            "INSERT INTO tracking_productionrun (brand_id, name, starts_at, ends_at)"
            " SELECT 1, 'run ' || i, now() - interval '10 days', now() + interval '30 days'"
            " FROM generate_series(1, 10) i"
        )
        c.execute(
            """
            INSERT INTO tracking_tracker (
                mac_address, advertisement_key, hashed_advertisement_key, private_key_encrypted,
                lifecycle_state, client_id, production_run_id, label, created_at,
                status, status_watermark, nearest_city, nearest_country_code, updated_at,
                last_report_at, last_point, last_accuracy_m, activated_at)
            SELECT upper(substr(md5(i::text), 1, 2) || ':' || substr(md5(i::text), 3, 2) || ':'
                         || substr(md5(i::text), 5, 2) || ':' || substr(md5(i::text), 7, 2)
                         || ':' || lpad(to_hex(i / 256 %% 256), 2, '0') || ':'
                         || lpad(to_hex(i %% 256), 2, '0')),
                   decode(md5('adv' || i) || substr(md5('adv2' || i), 1, 24), 'hex'),
                   encode(decode(md5('hash' || i) || md5('hash2' || i), 'hex'), 'base64'),
                   decode(md5('pk' || i), 'hex'),
                   'ACTIVE', 1, 1 + i %% 10, 'tracker ' || i, now(),
                   (ARRAY['UNKNOWN','IN_TRANSIT','IN_STORAGE','DELIVERED'])[1 + i %% 4], 0,
                   'Vienna', 'AT', now(),
                   now() - (i %% 600) * interval '1 minute',
                   ST_SetSRID(ST_MakePoint(16.2 + (i %% 100) / 500.0, 48.1 + (i / 100) / 500.0),
                              4326)::geography,
                   20, now() - interval '10 days'
            FROM generate_series(1, %s) i
            """,
            [trackers],
        )
        c.execute(
            """
            INSERT INTO tracking_locationreport (
                tracker_id, observed_at, received_at, point, horizontal_accuracy, confidence,
                status_byte, payload_hash)
            SELECT 1 + (n %% %(trackers)s),
                   now() - ((n / %(trackers)s) * (7 * 24 * 60 / %(per)s)) * interval '1 minute',
                   now(),
                   ST_SetSRID(ST_MakePoint(16.2 + random() * 0.3, 48.1 + random() * 0.2),
                              4326)::geography,
                   (10 + n %% 90), 2, 0,
                   decode(md5(n::text) || md5((n + 1)::text || 'x'), 'hex')
            FROM generate_series(0, %(total)s - 1) n
            """,
            {"trackers": trackers, "per": reports_per_tracker,
             "total": trackers * reports_per_tracker},
        )  # fmt: skip
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE tracking_locationreport")
        c.execute("VACUUM ANALYZE tracking_tracker")


def api_key() -> str:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-admin")
    client = Client.objects.get(name="Bench")
    Membership.objects.get_or_create(user=user, client=client, role=Membership.Role.ADMIN)
    return services.api_key_create(
        user=user, client=client, name=f"bench {time.time()}", role="VIEWER"
    ).secret


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=10_000)
    parser.add_argument("--reports-per-tracker", type=int, default=100)
    parser.add_argument("--requests", type=int, default=800, help="per request kind")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--reuse", action="store_true", help="keep data of an earlier run")
    args = parser.parse_args()

    guard_database()
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
    auth = {"concurrency": CONCURRENCY, "headers": {"Authorization": f"Api-Key {api_key()}"}}
    connection.close()

    port = free_port()
    server = start_gunicorn(port, args.workers, API_THROTTLE_RATE="100000000/min")
    base = f"http://127.0.0.1:{port}"
    trackers = args.trackers
    kinds = {
        "trivial": lambda rng: "/api/v1/me/",
        "tracker list": lambda rng: (
            f"/api/v1/trackers/?limit=100&offset={rng.randrange(0, trackers - 100)}"
        ),
        "locations page": lambda rng: (
            f"/api/v1/trackers/{rng.randint(1, trackers)}/locations/"
            f"?since={_iso(7)}&limit=100"
        ),
    }  # fmt: skip
    try:
        for make_path in kinds.values():  # warm every worker's connections and caches
            load(base, make_path, CONCURRENCY * 10, **auth)
        results = {
            name: load(base, make_path, args.requests, **auth) for name, make_path in kinds.items()
        }
    finally:
        server.terminate()
        server.wait(20)

    for name, r in results.items():
        print(f"{name:15} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms"
              f"  {r['rps']:6.1f} req/s  errors {r['errors']}/{r['n']}")  # fmt: skip
    slower = max(results["tracker list"]["p50"], results["locations page"]["p50"])
    ratio = results["trivial"]["p50"] / slower
    errors = sum(r["errors"] for r in results.values())
    print(
        f"RESULT api ratio={ratio:.3f}"
        f" trivial_p50={results['trivial']['p50']:.1f}ms"
        f" list_p50={results['tracker list']['p50']:.1f}ms"
        f" list_p95={results['tracker list']['p95']:.1f}ms"
        f" locations_p50={results['locations page']['p50']:.1f}ms"
        f" locations_p95={results['locations page']['p95']:.1f}ms"
        f" list_rps={results['tracker list']['rps']:.0f}"
        f" locations_rps={results['locations page']['rps']:.0f}"
        f" errors={errors}"
    )


def _iso(days_ago: int) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


if __name__ == "__main__":
    main()

"""Roll-up speed: geofencing.services.rollup_locations against one bare GROUP BY.

1,000,000 reports (2,500 trackers, one report every 15 minutes for about four days) are folded
into the hourly and daily roll-ups from scratch, and the same run times a single GROUP BY
statement computing the hourly aggregates (count, first/last time, centroid, best accuracy)
and delivering those 250,000 rows to the client, without writing anything: the floor for
reading and aggregating those reports once and handing the result on. The rows are delivered
two ways, through a cursor (psycopg's own loaders) and by COPY ... TO STDOUT read as raw bytes;
the faster one counts. The roll-up is the service itself (rollup_locations(rebuild=True):
emptying both tables, hourly and daily rows written, foreign keys checked as it writes),
inside a transaction that is rolled back.

For reference the run also times the GROUP BY summed up on the server (every aggregate
computed, no rows leave it): a lower bound that leaves out delivering the rows anywhere (the
ratio against it is printed as floor_ratio).

Run against a database of its own (it replaces the data there):
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/bench_geo .venv/bin/python bench/rollup.py
The last line is `RESULT rollup ratio=<group-by time / roll-up time> floor_ratio=<...>`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 0.5  # make bench: the ratio this bench must reach

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from geofencing import services  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)

HOURLY = """
    SELECT tracker_id, date_trunc('hour', observed_at, 'UTC') AS bucket, count(*) AS n,
           min(observed_at) AS first_at, max(observed_at) AS last_at,
           avg(ST_X(point::geometry)) AS x, avg(ST_Y(point::geometry)) AS y,
           min(horizontal_accuracy) AS best
    FROM tracking_locationreport
    GROUP BY 1, 2
"""
# Every column is used, or the planner would drop the unused aggregates from the subquery.
COUNTED = f"""
    SELECT count(*), sum(n), min(first_at), max(last_at), sum(x), sum(y), min(best)
    FROM ({HOURLY}) buckets
"""


class Rollback(Exception):
    pass


def build(trackers: int, per_tracker: int, rng: random.Random) -> None:
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            "TRUNCATE geofencing_statushistory, geofencing_trackergeostate,"
            " geofencing_processingcursor, geofencing_place_production_runs, geofencing_place,"
            " tracking_hourlyrollup, tracking_dailyrollup, tracking_locationreport,"
            " tracking_tracker, tracking_productionrun, tracking_brand, tracking_client"
            " RESTART IDENTITY CASCADE"
        )
        c.execute("INSERT INTO tracking_client (name, created_at) VALUES ('Bench', now())")
        with c.cursor.copy(
            "COPY tracking_tracker (id, mac_address, advertisement_key, hashed_advertisement_key,"
            " private_key_encrypted, lifecycle_state, label, created_at, nearest_city,"
            " nearest_country_code, status, status_watermark) FROM STDIN"
        ) as copy:
            for tid in range(1, trackers + 1):
                copy.write_row((tid, f"BE:00:00:{tid >> 16 & 255:02X}:{tid >> 8 & 255:02X}:"
                                f"{tid & 255:02X}", tid.to_bytes(28, "big"), f"{tid:044d}",
                                b"x", "ACTIVE", "", T0, "", "", "UNKNOWN", 0))  # fmt: skip
        with c.cursor.copy(
            "COPY tracking_locationreport (id, tracker_id, observed_at, received_at, point,"
            " horizontal_accuracy, confidence, status_byte, payload_hash) FROM STDIN"
        ) as copy:
            rid = 0
            for tid in range(1, trackers + 1):
                lon, lat = rng.uniform(-180, 180), rng.uniform(-60, 70)
                for k in range(per_tracker):
                    rid += 1
                    lon += rng.uniform(-0.01, 0.01)
                    lat += rng.uniform(-0.01, 0.01)
                    observed = T0 + timedelta(minutes=15 * k + tid % 15)
                    point = f"SRID=4326;POINT({lon:.7f} {lat:.7f})"
                    copy.write_row((rid, tid, observed, T0, point, rng.randint(5, 300), 2, 0,
                                    rid.to_bytes(32, "big")))  # fmt: skip
        c.execute(
            "SELECT setval(pg_get_serial_sequence('tracking_locationreport', 'id'), %s)", [rid]
        )
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE tracking_locationreport")
        c.execute("VACUUM ANALYZE tracking_tracker")


def plain_cursor(c):
    """psycopg's own loaders (the C ones with psycopg[binary]), not Django's Python
    timestamptz loader: the baseline should not pay for Django's conveniences."""
    from psycopg import postgres, pq

    raw = c.cursor
    for name in ("timestamptz", "numeric"):
        oid = postgres.types[name].oid
        raw.adapters.register_loader(oid, postgres.adapters.get_loader(oid, pq.Format.TEXT))
    return raw


def time_group_by() -> tuple[float, float, float, tuple]:
    """The GROUP BY delivering its rows through a cursor, by COPY, and only counted."""
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET LOCAL jit = off")
        raw = plain_cursor(c)
        t0 = time.perf_counter()
        raw.execute(HOURLY)
        rows = raw.fetchall()
        fetched = time.perf_counter() - t0
        t0 = time.perf_counter()
        size = 0
        with raw.copy(f"COPY ({HOURLY}) TO STDOUT") as copy:
            for data in copy:
                size += len(data)
        copied = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw.execute(COUNTED)
        counted_row = raw.fetchone()
        counted = time.perf_counter() - t0
    assert counted_row[:2] == (len(rows), sum(r[2] for r in rows)) and size > 0
    return fetched, copied, counted, counted_row[:2]


def time_rollup() -> tuple[float, services.RollupResult]:
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            result = services.rollup_locations(rebuild=True)
            elapsed = time.perf_counter() - t0
            raise Rollback
    except Rollback:
        pass
    return elapsed, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=2_500)
    parser.add_argument("--per-tracker", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the reports already there")
    args = parser.parse_args()

    name = connection.settings_dict["NAME"]
    if not name.startswith("bench"):
        sys.exit(f"refusing to run against database {name!r}: use a bench_* database")
    call_command("migrate", verbosity=0)
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM tracking_locationreport")
        have = c.fetchone()[0]
    total = args.trackers * args.per_tracker
    if not (args.reuse and have == total):
        t0 = time.perf_counter()
        build(args.trackers, args.per_tracker, random.Random(11))
        print(f"built {total:,} reports for {args.trackers:,} trackers in "
              f"{time.perf_counter() - t0:.1f}s")  # fmt: skip

    group_bys, floors, rollups = [], [], []
    for i in range(args.rounds):
        fetched, copied, counted, (buckets, reports) = time_group_by()
        group_bys.append(min(fetched, copied))
        floors.append(counted)
        print(f"round {i + 1}: GROUP BY: rows fetched {fetched:.2f}s, copied out {copied:.2f}s,"
              f" only counted {counted:.2f}s; {buckets:,} hourly buckets")  # fmt: skip
        seconds, result = time_rollup()
        rollups.append(seconds)
        print(f"round {i + 1}: roll-up: {seconds:.2f}s  {result}")
        assert result.reports == reports == total, (result, reports)
        assert result.hourly_buckets == buckets

    group_by, floor, rollup = min(group_bys), min(floors), min(rollups)
    print(f"GROUP BY {group_by:.2f}s (counted only {floor:.2f}s)"
          f"  roll-up (hourly + daily, written) {rollup:.2f}s")  # fmt: skip
    print(f"RESULT rollup ratio={group_by / rollup:.3f} floor_ratio={floor / rollup:.3f}")


if __name__ == "__main__":
    main()

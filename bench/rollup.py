"""Roll-up speed: geofencing.services.rollup_locations against one bare GROUP BY.

1,000,000 reports (2,500 trackers, one report every 15 minutes for about four days) are folded
into the hourly and daily roll-ups from scratch, and the same run times a single GROUP BY
statement computing the hourly aggregates (count, first/last time, centroid, best accuracy)
without writing anything: the floor for reading and aggregating those reports once.

Run against a database of its own (it replaces the data there):
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/bench_geo .venv/bin/python bench/rollup.py
The last line is `RESULT rollup ratio=<group-by time / roll-up time>`.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from geofencing import services  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)

GROUP_BY = """
    SELECT count(*), sum(n) FROM (
        SELECT tracker_id, date_trunc('hour', observed_at, 'UTC'), count(*) AS n,
               min(observed_at), max(observed_at),
               avg(ST_X(point::geometry)), avg(ST_Y(point::geometry)),
               min(horizontal_accuracy)
        FROM tracking_locationreport
        GROUP BY 1, 2
    ) buckets
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


def time_group_by() -> tuple[float, tuple]:
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET LOCAL jit = off")
        t0 = time.perf_counter()
        c.execute(GROUP_BY)
        row = c.fetchone()
        return time.perf_counter() - t0, row


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

    group_bys, rollups = [], []
    for i in range(args.rounds):
        seconds, (buckets, reports) = time_group_by()
        group_bys.append(seconds)
        print(f"round {i + 1}: GROUP BY: {seconds:.2f}s, {buckets:,} hourly buckets")
        seconds, result = time_rollup()
        rollups.append(seconds)
        print(f"round {i + 1}: roll-up: {seconds:.2f}s  {result}")
        assert result.reports == reports == total, (result, reports)
        assert result.hourly_buckets == buckets

    group_by, rollup = min(group_bys), min(rollups)
    print(f"GROUP BY {group_by:.2f}s  roll-up (hourly + daily, written) {rollup:.2f}s")
    print(f"RESULT rollup ratio={group_by / rollup:.3f}")


if __name__ == "__main__":
    main()

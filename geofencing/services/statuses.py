"""The status engine: tracker statuses from the places their new reports lie in."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, groupby
from operator import attrgetter

import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg.rows import namedtuple_row

from tracking import webhooks
from tracking.events import NEW_EVENT_ID_SQL
from tracking.models import AlertRule, Event, LocationReport, Tracker, WebhookEndpoint

from ..models import Place, ProcessingCursor, StatusHistory, TrackerGeoState
from ..transitions import DELIVERED, IN_STORAGE, IN_TRANSIT, Island, Observation, TrackerWalk
from .locks import LOCK_STATUS

_REPORT = LocationReport._meta.db_table
_TRACKER = Tracker._meta.db_table
_STATE = TrackerGeoState._meta.db_table
_PLACE = Place._meta.db_table
_PLACE_RUNS = Place.production_runs.through._meta.db_table
_HISTORY = StatusHistory._meta.db_table
_EVENT = Event._meta.db_table
_WEBHOOK = WebhookEndpoint._meta.db_table
_ALERT_RULE = AlertRule._meta.db_table
_DELIVERY = Place.Kind.DELIVERY.value

logger = logging.getLogger(__name__)


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
# Every row counts its reports in n and the late ones among them in n_late. The first row is
# the totals row (tracker_id NULL: every report in scope, walked or not); the island rows
# follow, ordered by tracker and island. Rows are read by column name (namedtuple_row).
_STATUS_SQL = f"""
WITH classified AS MATERIALIZED (
    SELECT DISTINCT ON (r.id)
           r.id, r.tracker_id, r.observed_at,
           CASE WHEN pr.place_id IS NOT NULL THEN p.id END AS place_id,
           CASE WHEN pr.place_id IS NULL THEN '{IN_TRANSIT}'
                WHEN p.kind = '{_DELIVERY}' THEN '{DELIVERED}' ELSE '{IN_STORAGE}' END AS status,
           COALESCE(r.observed_at < GREATEST(t.status_changed_at,
                                             (s.departure_streak -> -1 ->> 1)::timestamptz),
                    false) AS late,
           t.status AS t_status, t.status_changed_at AS t_changed_at,
           s.place_id AS s_place_id, s.place_since AS s_place_since,
           NULLIF(s.departure_streak, '[]'::jsonb)::text AS s_streak,
           s.tracker_id IS NOT NULL AS has_state
    FROM {_REPORT} r
    JOIN {_TRACKER} t ON t.id = r.tracker_id
    LEFT JOIN {_STATE} s ON s.tracker_id = r.tracker_id
    LEFT JOIN {_PLACE} p
      ON p.zone && r.point::geometry
     AND CASE WHEN p.polygon IS NULL THEN ST_DWithin(r.point, p.point, p.radius_m)
              ELSE ST_Covers(p.polygon, r.point) END
    LEFT JOIN {_PLACE_RUNS} pr
      ON pr.place_id = p.id AND pr.productionrun_id = t.production_run_id
    WHERE r.id > %(low)s AND r.id <= %(high)s AND r.horizontal_accuracy <= %(max_accuracy)s
      AND r.id > t.status_watermark AND {{scope}}
    ORDER BY r.id, pr.place_id IS NOT NULL DESC, p.kind = '{_DELIVERY}' DESC,
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
       count(*) FILTER (WHERE late) AS n_late, NULL::text AS status, NULL::bigint AS place_id,
       NULL::boolean AS late, NULL::varchar AS t_status, NULL::timestamptz AS t_changed_at,
       NULL::bigint AS s_place_id, NULL::timestamptz AS s_place_since, NULL::text AS s_streak,
       NULL::boolean AS has_state
FROM classified
UNION ALL
SELECT tracker_id, island, min(id) FILTER (WHERE starts = 1), min(observed_at),
       max(observed_at), count(*), count(*) FILTER (WHERE late), status, place_id, late,
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
    oid = psycopg.postgres.types["timestamptz"].oid
    cursor.adapters.register_loader(
        oid, psycopg.postgres.adapters.get_loader(oid, psycopg.pq.Format.TEXT)
    )


_HISTORY_COPY = (
    f"COPY {_HISTORY} (tracker_id, from_status, to_status, at, place_id, from_place_id,"
    " report_id, recorded_at) FROM STDIN (FORMAT BINARY)"
)
_HISTORY_TYPES = ["int8", "text", "text", "timestamptz", "int8", "int8", "int8", "timestamptz"]

# The columns of _WRITE_MOVES_SQL, one value per tracker whose status or state moved.
_MOVE_COLUMNS = (
    "tracker_id", "status", "status_changed_at", "place_id", "place_since", "departure_streak",
    "status_moved", "state_moved", "has_state",
)  # fmt: skip


def _walk_islands(raw, islands: list, *, recorded_at: datetime, **rules) -> tuple:
    """Walk each tracker's islands (rows of _STATUS_SQL after the totals row) and record its
    changes. History streams into the table by binary COPY while the walk goes on, so the
    server stores one tracker's changes while Python walks the next. Returns the moves (a
    list per column of _MOVE_COLUMNS), the trackers walked and the transitions recorded."""
    moved = []
    walked = transitions = 0
    with raw.copy(_HISTORY_COPY) as copy:
        copy.set_types(_HISTORY_TYPES)
        write = copy.write_row
        for tracker_id, rows in groupby(islands, attrgetter("tracker_id")):
            first = next(rows)  # its tracker's state columns are the same on each of its rows
            s_place_id, s_place_since = first.s_place_id, first.s_place_since
            streak_before = json.loads(first.s_streak) if first.s_streak else []
            walk = TrackerWalk(
                status=first.t_status,
                place_id=s_place_id,
                place_since=s_place_since,
                status_changed_at=first.t_changed_at,
                streak=[Observation.from_json(item) for item in streak_before],
            )
            observe = walk.observe_island
            for row in chain((first,), rows):
                first_report = Observation(row.first_id, row.first_at, row.status, row.place_id)
                observe(Island(first_report, row.n, row.last_at, row.late), **rules)
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
                write((tracker_id, c.from_status, c.to_status, c.at, c.place_id,
                       c.from_place_id, c.report_id, recorded_at))  # fmt: skip
            moved.append(
                (tracker_id, walk.status, walk.status_changed_at, walk.place_id,
                 walk.place_since, json.dumps(streak) if streak else "[]", bool(changes),
                 state_moved, first.has_state)
            )  # fmt: skip
    return [list(column) for column in zip(*moved, strict=True)], walked, transitions


# The trackers whose status moved, and the state of those whose place or streak moved, in one
# statement from the walk's columns: existing state rows by UPDATE, new ones by INSERT (ON
# CONFLICT: the city labeller may have created one meanwhile).
_WRITE_MOVES_SQL = f"""
WITH e AS (
    SELECT * FROM unnest(%(tracker_id)b::bigint[], %(status)b::text[],
                         %(status_changed_at)b::timestamptz[], %(place_id)b::bigint[],
                         %(place_since)b::timestamptz[], %(departure_streak)b::jsonb[],
                         %(status_moved)b::boolean[], %(state_moved)b::boolean[],
                         %(has_state)b::boolean[])
        AS e(tracker_id, status, status_changed_at, place_id, place_since, departure_streak,
             status_moved, state_moved, has_state)
), moved AS (
    UPDATE {_TRACKER} t
    SET status = e.status, status_changed_at = e.status_changed_at,
        status_watermark = GREATEST(t.status_watermark, %(high)s)
    FROM e
    WHERE t.id = e.tracker_id AND e.status_moved
    RETURNING 1
), kept AS (
    UPDATE {_STATE} s
    SET place_id = e.place_id, place_since = e.place_since,
        departure_streak = e.departure_streak
    FROM e
    WHERE s.tracker_id = e.tracker_id AND e.state_moved AND e.has_state
    RETURNING 1
)
INSERT INTO {_STATE} AS s (tracker_id, place_id, place_since, departure_streak)
SELECT tracker_id, place_id, place_since, departure_streak
FROM e
WHERE state_moved AND NOT has_state
ON CONFLICT (tracker_id) DO UPDATE SET
    place_id = EXCLUDED.place_id,
    place_since = EXCLUDED.place_since,
    departure_streak = EXCLUDED.departure_streak
"""


# The outbox: the events of each history row this evaluation wrote (ids past `after`: the
# engine alone writes history, under its lock), in one INSERT ... SELECT in the same
# transaction. Every row is a tracker.status_changed; a change of place is also a
# tracker.left (the place it left) and a tracker.arrived (the place it reached); reaching
# DELIVERED is a tracker.delivered; leaving a delivery place after DELIVERED is a
# tracker.moved_after_delivery (theft, or a wrong delivery). These four are written for the
# clients that listen to them (an enabled webhook endpoint or the alert rule names the type):
# a client that listens to none is spared three rows per change, and one that starts
# listening hears of the changes from then on. They store no payload, only the history row
# (source_id) and the place the event is about (place_id): geofencing.events builds the
# payloads when webhooks or alerts read them. Delivery reads them later, in Celery.
_EVENTS_SQL = f"""
WITH listening AS (
    SELECT w.client_id, x.type
    FROM {_WEBHOOK} w CROSS JOIN LATERAL jsonb_array_elements_text(w.event_types) x(type)
    WHERE w.enabled
    UNION
    SELECT r.client_id, x.type
    FROM {_ALERT_RULE} r CROSS JOIN LATERAL jsonb_array_elements_text(r.event_types) x(type)
)
INSERT INTO {_EVENT}
    (id, type, client_id, tracker_id, payload, source_id, place_id, occurred_at, created_at)
SELECT {NEW_EVENT_ID_SQL}, e.type, t.client_id, h.tracker_id, NULL, h.id, e.place_id,
       h.at, %(now)s
FROM {_HISTORY} h
JOIN {_TRACKER} t ON t.id = h.tracker_id
CROSS JOIN LATERAL (VALUES
    (%(changed)s, h.place_id, true),
    (%(left)s, h.from_place_id,
     h.from_place_id IS NOT NULL AND h.place_id IS DISTINCT FROM h.from_place_id),
    (%(moved)s, h.from_place_id,
     h.from_status = '{DELIVERED}' AND h.from_place_id IS NOT NULL
     AND h.place_id IS DISTINCT FROM h.from_place_id),
    (%(arrived)s, h.place_id,
     h.place_id IS NOT NULL AND h.place_id IS DISTINCT FROM h.from_place_id),
    (%(delivered)s, h.place_id, h.to_status = '{DELIVERED}')
) AS e(type, place_id, wanted)
WHERE h.id > %(after)s AND t.client_id IS NOT NULL AND e.wanted
  AND (e.type = %(changed)s
       OR (t.client_id, e.type) IN (SELECT client_id, type FROM listening))
"""


def _last_history_id(cursor) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_HISTORY}")
    return cursor.fetchone()[0]


def _record_events(cursor, *, after: int, now) -> None:
    cursor.execute(
        _EVENTS_SQL,
        {
            "changed": Event.Type.STATUS_CHANGED.value,
            "left": Event.Type.LEFT.value,
            "moved": Event.Type.MOVED_AFTER_DELIVERY.value,
            "arrived": Event.Type.ARRIVED.value,
            "delivered": Event.Type.DELIVERED.value,
            "after": after,
            "now": now,
        },
    )


def _write_moves(raw, moves: list[list], *, high: int) -> None:
    """The columns go as binary arrays, bound on the server: Django's cursor would quote them
    into the statement's text instead."""
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
    ids = None if tracker_ids is None else sorted({int(i) for i in tracker_ids})
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_STATUS])
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_REPORT}")
        high = cursor.fetchone()[0]
        global_cursor, _ = ProcessingCursor.objects.select_for_update().get_or_create(name="status")
        raw = cursor.cursor
        totals, islands = _classify(
            raw, low=global_cursor.last_report_id, high=high, tracker_ids=ids
        )
        now = timezone.now()
        walked = transitions = 0
        if islands:
            history_before = _last_history_id(cursor)
            moves, walked, transitions = _walk_islands(
                raw, islands, recorded_at=now, **_departure_rules()
            )
            _write_moves(raw, moves, high=high)
            if transitions:
                _record_events(cursor, after=history_before, now=now)
                webhooks.dispatch_soon()
        _advance_watermarks(cursor, global_cursor, high=high, tracker_ids=ids, now=now)
    result = EvaluationResult(
        reports=totals.n,
        walked=walked,
        transitions=transitions,
        skipped_late=totals.n_late,  # every late report is skipped
        high_water=high,
    )
    logger.info("status engine: %s", result)
    return result


def _departure_rules() -> dict:
    """The debounce settings, as TrackerWalk.observe_island takes them."""
    return {
        "departure_reports": max(1, int(settings.GEOFENCING_DEPARTURE_REPORTS)),
        "departure_minutes": float(getattr(settings, "GEOFENCING_DEPARTURE_MINUTES", 0.0)),
    }


def _classify(raw, *, low: int, high: int, tracker_ids: list[int] | None) -> tuple:
    """The totals row and the island rows of _STATUS_SQL, as named tuples, read in the
    caller's transaction."""
    params = {"max_accuracy": settings.GEOFENCING_MAX_ACCURACY_M, "high": high, "low": low}
    if tracker_ids is not None:
        params["ids"] = tracker_ids
    # A client-side binding cursor like Django's own, so the statement is planned the same.
    named = psycopg.ClientCursor(raw.connection, row_factory=namedtuple_row)
    with named, _local_settings(raw, _ENGINE_SETTINGS):
        _fast_timestamps(named)
        named.execute(_status_sql(scoped=tracker_ids is not None), params)
        rows = named.fetchall()
    return rows[0], rows[1:]


def _advance_watermarks(cursor, global_cursor, *, high: int, tracker_ids, now) -> None:
    """A full run moves the global cursor; a limited run its trackers' own watermarks."""
    if tracker_ids is None:
        global_cursor.last_report_id = max(global_cursor.last_report_id, high)
        global_cursor.updated_at = now
        global_cursor.save(update_fields=["last_report_id", "updated_at"])
    else:
        cursor.execute(
            f"UPDATE {_TRACKER} SET status_watermark = %s"
            " WHERE id = ANY(%s) AND status_watermark < %s",
            [high, tracker_ids, high],
        )


def effective_status_watermark(*, tracker) -> int:
    """The highest report id the engine has evaluated for this tracker."""
    cursor_id = (
        ProcessingCursor.objects.filter(name="status")
        .values_list("last_report_id", flat=True)
        .first()
    )
    return max(tracker.status_watermark, cursor_id or 0)


def wait_for_status_evaluation(**kwargs) -> None:
    """Before a place is deleted: wait until a running status evaluation has committed, and
    keep the next one from starting until this deletion has (see models.place_link)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_STATUS])

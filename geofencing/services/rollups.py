"""Hourly and daily roll-ups of the reports, maintained incrementally."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from tracking.models import DailyRollup, HourlyRollup, LocationReport

from ..models import ProcessingCursor
from .locks import LOCK_ROLLUP

_REPORT = LocationReport._meta.db_table
_HOURLY = HourlyRollup._meta.db_table
_DAILY = DailyRollup._meta.db_table

logger = logging.getLogger(__name__)


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
_ROLLUP_HOURS_SQL = f"""
CREATE TEMP TABLE _geofencing_rollup_hours ON COMMIT DROP AS
SELECT tracker_id,
       date_trunc('hour', observed_at, 'UTC') AS bucket,
       count(*) AS n,
       min(observed_at) AS first_at,
       max(observed_at) AS last_at,
       sum(ST_X(point::geometry)) AS sum_x,
       sum(ST_Y(point::geometry)) AS sum_y,
       min(horizontal_accuracy) AS best
FROM {_REPORT}
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
            cursor.execute(f"TRUNCATE {_HOURLY}, {_DAILY}")
            cursor_row.last_report_id = 0
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {_REPORT}")
        high = cursor.fetchone()[0]
        if high <= cursor_row.last_report_id:
            return RollupResult(0, 0, 0, cursor_row.last_report_id)
        cursor.execute("DROP TABLE IF EXISTS _geofencing_rollup_hours")
        cursor.execute(_ROLLUP_HOURS_SQL, {"low": cursor_row.last_report_id, "high": high})
        cursor.execute("SELECT COALESCE(sum(n), 0) FROM _geofencing_rollup_hours")
        reports = cursor.fetchone()[0]
        hourly = _merge_buckets(cursor, table=_HOURLY, buckets=_HOURLY_BUCKETS)
        daily = _merge_buckets(cursor, table=_DAILY, buckets=_DAILY_BUCKETS)
        cursor.execute("DROP TABLE _geofencing_rollup_hours")
        cursor_row.last_report_id = high
        cursor_row.updated_at = timezone.now()
        cursor_row.save(update_fields=["last_report_id", "updated_at"])
    result = RollupResult(int(reports), hourly, daily, high)
    logger.info("roll-ups: %s", result)
    return result

"""Report ingestion: decrypt a batch, skip what fails, store each report once, set-based.

Rows go in with COPY into a temporary table and one INSERT ... SELECT ... ON CONFLICT
(payload_hash) DO NOTHING, whose RETURNING feeds one UPDATE ... FROM that moves each tracker's
last position, only when the new report was observed later than the one it has; a tracker's
first report ever also writes a tracker.first_report event to the outbox, in that statement, and
a tracker's first report after it was announced silent a tracker.back event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.db import connection, transaction
from django.utils import timezone

from tracking import encryption
from tracking.models import Event, LocationReport, Tracker

from . import crypto
from .crypto import ReportDecryptionError

_TEMP_TABLE = "findmy_ingest_batch"
_REPORT = LocationReport._meta.db_table
_TRACKER = Tracker._meta.db_table
_EVENT = Event._meta.db_table
# Rows per COPY + INSERT. PostgreSQL stores one chunk while the next is decrypted; chunks
# shrink towards the end of a batch (each about the size of what is left) so the last one,
# which nothing overlaps, is small.
MIN_CHUNK_ROWS = 100
MAX_CHUNK_ROWS = 5000
_COLUMNS = (
    "tracker_id",
    "observed_at",
    "latitude",
    "longitude",
    "horizontal_accuracy",
    "confidence",
    "status_byte",
    "payload_hash",
)
_COPY_TYPES = ["int8", "timestamptz", "float8", "float8", "int2", "int2", "int2", "bytea"]

_INSERT_SQL = f"""
WITH inserted AS (
    INSERT INTO {_REPORT} (
        tracker_id, observed_at, received_at, point,
        horizontal_accuracy, confidence, status_byte, payload_hash
    )
    SELECT tracker_id, observed_at, %(received_at)s,
           ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)::geography,
           horizontal_accuracy, confidence, status_byte, payload_hash
    FROM {_TEMP_TABLE}
    ON CONFLICT (payload_hash) DO NOTHING
    RETURNING tracker_id, observed_at, point, horizontal_accuracy
), newest AS (
    SELECT DISTINCT ON (tracker_id) tracker_id, observed_at, point, horizontal_accuracy
    FROM inserted
    ORDER BY tracker_id, observed_at DESC
), moved AS (
    UPDATE {_TRACKER} AS t
    SET last_report_at = n.observed_at, last_point = n.point,
        last_accuracy_m = n.horizontal_accuracy
    FROM newest AS n, {_TRACKER} AS before  -- `before`: the row as it was, for the event
    WHERE t.id = n.tracker_id AND before.id = t.id
      AND (t.last_report_at IS NULL OR t.last_report_at < n.observed_at)
    RETURNING t.id, t.client_id, t.mac_address, t.label, t.production_run_id,
              before.last_report_at IS NULL AS first, before.last_report_at AS previous_at,
              n.observed_at, n.point, n.horizontal_accuracy
), first_reports AS (
    -- The outbox: a tracker's first report ever, in the same statement as the report.
    INSERT INTO {_EVENT} (id, type, client_id, tracker_id, payload, occurred_at, created_at)
    SELECT gen_random_uuid(), %(first_report)s, client_id, id,
           jsonb_build_object(
               'tracker', jsonb_build_object('id', id, 'mac_address', mac_address,
                                             'label', label, 'production_run', production_run_id),
               'observed_at', observed_at,
               'position', jsonb_build_object('longitude', ST_X(point::geometry),
                                              'latitude', ST_Y(point::geometry)),
               'accuracy_m', horizontal_accuracy),
           observed_at, %(received_at)s
    FROM moved
    WHERE first AND client_id IS NOT NULL
    RETURNING 1
), back AS (
    -- Back after silence: the first report observed after a tracker.silent event that came
    -- after the tracker's previous report (once per silence: the tracker's last report then
    -- passes the silence). The type as a literal, for the partial index event_silent_tracker_at.
    INSERT INTO {_EVENT} (id, type, client_id, tracker_id, payload, occurred_at, created_at)
    SELECT gen_random_uuid(), %(back)s, m.client_id, m.id,
           jsonb_build_object(
               'tracker', jsonb_build_object('id', m.id, 'mac_address', m.mac_address,
                                             'label', m.label,
                                             'production_run', m.production_run_id),
               'observed_at', m.observed_at, 'silent_since', m.previous_at,
               'position', jsonb_build_object('longitude', ST_X(m.point::geometry),
                                              'latitude', ST_Y(m.point::geometry)),
               'accuracy_m', m.horizontal_accuracy),
           m.observed_at, %(received_at)s
    FROM moved m
    WHERE NOT m.first AND m.client_id IS NOT NULL
      AND EXISTS (
          SELECT 1 FROM {_EVENT} e
          WHERE e.tracker_id = m.id AND e.type = '{Event.Type.SILENT.value}'
            AND e.occurred_at > m.previous_at AND e.occurred_at <= m.observed_at)
    RETURNING 1
)
SELECT tracker_id, count(*) FROM inserted GROUP BY tracker_id
"""


@dataclass(frozen=True)
class IngestTarget:
    """A tracker whose payloads are being ingested, and the window its reports must fall in."""

    tracker_id: int
    key: object  # a loaded P-224 private key (findmy.crypto.load_private_key)
    window_start: datetime | None = None
    window_end: datetime | None = None


@dataclass
class IngestResult:
    returned: int = 0
    new: int = 0
    duplicate: int = 0
    undecryptable: int = 0
    out_of_window: int = 0
    new_by_tracker: dict[int, int] = field(default_factory=dict)
    # decryptable reports inside the window per tracker, new or not
    valid_by_tracker: dict[int, int] = field(default_factory=dict)


@lru_cache(maxsize=8192)
def _key_from_token(token: bytes):
    return crypto.load_private_key(encryption.decrypt(token))


def load_tracker_key(private_key_encrypted: bytes):
    """The tracker's private key as a key object; derivation is cached per process."""
    return _key_from_token(bytes(private_key_encrypted))


def decrypt_chunks(
    batches: Sequence[tuple[IngestTarget, Sequence[bytes]]],
    result: IngestResult,
    min_chunk_rows: int = MIN_CHUNK_ROWS,
) -> Iterator[list[tuple]]:
    """Rows ready for COPY, in chunks; counts failures, out-of-window reports and in-batch
    duplicates in `result` as it goes."""
    remaining = sum(len(payloads) for _, payloads in batches)
    flush_at = max(min_chunk_rows, min(MAX_CHUNK_ROWS, remaining // 2))
    rows: list[tuple] = []
    seen: set[bytes] = set()
    decrypt = crypto.decrypt_report_with_key
    sha256 = hashlib.sha256
    for target, payloads in batches:
        key, start, end, tracker_id = (
            target.key,
            target.window_start,
            target.window_end,
            target.tracker_id,
        )
        valid = 0
        for payload in payloads:
            result.returned += 1
            remaining -= 1
            digest = sha256(payload).digest()
            if digest in seen:
                result.duplicate += 1
                continue
            seen.add(digest)
            try:
                report = decrypt(key, payload)
            except ReportDecryptionError:
                result.undecryptable += 1
                continue
            observed_at = report.observed_at
            if (start is not None and observed_at < start) or (
                end is not None and observed_at > end
            ):
                result.out_of_window += 1
                continue
            valid += 1
            rows.append(
                (
                    tracker_id,
                    observed_at,
                    report.latitude,
                    report.longitude,
                    report.horizontal_accuracy,
                    report.confidence,
                    report.status,
                    digest,
                )
            )
            if len(rows) >= flush_at:
                yield rows
                rows = []
                flush_at = max(min_chunk_rows, min(MAX_CHUNK_ROWS, remaining // 2))
        if valid:
            result.valid_by_tracker[tracker_id] = result.valid_by_tracker.get(tracker_id, 0) + valid
    if rows:
        yield rows


def _store_chunk(raw_connection, rows: list[tuple], received_at: datetime) -> dict[int, int]:
    """COPY one chunk in, insert what is new, move the trackers. On the raw psycopg connection,
    inside the caller's transaction."""
    with raw_connection.cursor() as cursor:
        # Inside a transaction ON COMMIT has not emptied it yet.
        cursor.execute(f"TRUNCATE {_TEMP_TABLE}")
        with cursor.copy(
            f"COPY {_TEMP_TABLE} ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            _INSERT_SQL,
            {
                "received_at": received_at,
                "first_report": Event.Type.FIRST_REPORT,
                "back": Event.Type.BACK,
            },
        )
        return dict(cursor.fetchall())


def ingest_payloads(
    *,
    batches: Iterable[tuple[IngestTarget, Iterable[bytes]]],
    received_at: datetime | None = None,
    min_chunk_rows: int = MIN_CHUNK_ROWS,
) -> IngestResult:
    """Decrypt, deduplicate and store a batch of raw payloads for several trackers, atomically.

    Big batches go in chunks, and PostgreSQL stores one chunk while Python decrypts the next:
    a single writer thread uses the same connection (and so the same transaction) while this
    thread, which only decrypts in the meantime, leaves it alone.
    """
    result = IngestResult()
    received_at = received_at or timezone.now()
    batches = [(target, list(payloads)) for target, payloads in batches]
    with transaction.atomic():
        with connection.cursor() as cursor:
            # A crash may lose the last few hundred milliseconds of commits, never corrupt or
            # half-apply them: reports, tracker positions and queue state commit together, and
            # what is lost is fetched again (Apple keeps a week). Waiting for the WAL flush
            # would cost a tenth of ingest time.
            cursor.execute("SET LOCAL synchronous_commit = off")
            # Check the tracker foreign key as each chunk goes in (in the writer, overlapped
            # with decryption) rather than all at once at commit.
            if fk := _report_tracker_fk():
                cursor.execute(f'SET CONSTRAINTS "{fk}" IMMEDIATE')
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP_TABLE} ("
                "tracker_id bigint, observed_at timestamptz, latitude float8, longitude float8, "
                "horizontal_accuracy int2, confidence int2, status_byte int2, payload_hash bytea"
                ") ON COMMIT DELETE ROWS"
            )
        raw = connection.connection
        stored = 0
        pending: Future | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as writer:
            try:
                for rows in decrypt_chunks(batches, result, min_chunk_rows):
                    if pending is not None:
                        _merge(result.new_by_tracker, pending.result())
                    pending = writer.submit(_store_chunk, raw, rows, received_at)
                    stored += len(rows)
            finally:
                if pending is not None:
                    # Always wait: the connection must be idle before the transaction ends.
                    wait([pending])
            if pending is not None:
                _merge(result.new_by_tracker, pending.result())
    result.new = sum(result.new_by_tracker.values())
    result.duplicate += stored - result.new
    return result


@lru_cache(maxsize=1)
def _report_tracker_fk() -> str:
    """The name of LocationReport's foreign key to Tracker (Django makes it deferred)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
            "AND confrelid = %s::regclass AND contype = 'f' AND condeferrable",
            [_REPORT, _TRACKER],
        )
        row = cursor.fetchone()
    return row[0] if row else ""


def _merge(total: dict[int, int], part: dict[int, int]) -> None:
    for tracker_id, count in part.items():
        total[tracker_id] = total.get(tracker_id, 0) + count

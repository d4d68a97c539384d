"""Report ingestion: decrypt a batch, skip what fails, store each report once, set-based.

Rows go in with COPY into a temporary table and one INSERT ... SELECT ... ON CONFLICT
(payload_hash) DO NOTHING, whose RETURNING feeds one UPDATE ... FROM that moves each tracker's
last position, only when the new report was observed later than the one it has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from django.db import connection, transaction
from django.utils import timezone

from tracking import encryption

from . import crypto
from .crypto import ReportDecryptionError

_TEMP_TABLE = "findmy_ingest_batch"
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
    INSERT INTO tracking_locationreport (
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
    UPDATE tracking_tracker AS t
    SET last_report_at = n.observed_at, last_point = n.point,
        last_accuracy_m = n.horizontal_accuracy
    FROM newest AS n
    WHERE t.id = n.tracker_id
      AND (t.last_report_at IS NULL OR t.last_report_at < n.observed_at)
    RETURNING t.id
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


def decrypt_batch(
    batches: Iterable[tuple[IngestTarget, Iterable[bytes]]], result: IngestResult
) -> list[tuple]:
    """Rows ready for COPY; counts failures, out-of-window reports and in-batch duplicates."""
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
        if valid:
            result.valid_by_tracker[tracker_id] = result.valid_by_tracker.get(tracker_id, 0) + valid
    return rows


def store_rows(rows: list[tuple], *, received_at: datetime) -> dict[int, int]:
    """COPY the rows in, insert the new ones, move the trackers. New reports per tracker."""
    if not rows:
        return {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP_TABLE} ("
            "tracker_id bigint, observed_at timestamptz, latitude float8, longitude float8, "
            "horizontal_accuracy int2, confidence int2, status_byte int2, payload_hash bytea"
            ") ON COMMIT DELETE ROWS"
        )
        # Inside an outer transaction the commit has not emptied it yet.
        cursor.execute(f"TRUNCATE {_TEMP_TABLE}")
        with cursor.copy(
            f"COPY {_TEMP_TABLE} ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(_COPY_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(_INSERT_SQL, {"received_at": received_at})
        return dict(cursor.fetchall())


def ingest_payloads(
    *,
    batches: Iterable[tuple[IngestTarget, Iterable[bytes]]],
    received_at: datetime | None = None,
) -> IngestResult:
    """Decrypt, deduplicate and store a batch of raw payloads for several trackers."""
    result = IngestResult()
    rows = decrypt_batch(batches, result)
    result.new_by_tracker = store_rows(rows, received_at=received_at or timezone.now())
    result.new = sum(result.new_by_tracker.values())
    result.duplicate += len(rows) - result.new
    return result

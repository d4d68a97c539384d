"""The fetch queue in PostgreSQL: lazily created state rows, leased claims, back-off.

Claims take rows with SELECT ... FOR UPDATE SKIP LOCKED and mark them with a lease
(`claimed_until`), so two workers never hold the same tracker and a crashed worker's trackers
come back once the lease has passed. Accounts are claimed the same way, which also enforces each
account's minimum interval between requests.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from tracking.models import ProductionRun, Tracker

from .models import AppleAccount, TrackerFetchState

STATE = TrackerFetchState._meta.db_table
TRACKER = Tracker._meta.db_table
RUN = ProductionRun._meta.db_table
ACCOUNT = AppleAccount._meta.db_table
ACTIVE = Tracker.Lifecycle.ACTIVE.value


@dataclass(frozen=True)
class Claim:
    """A claimed tracker with what a fetch needs to know about it."""

    tracker_id: int
    mac_address: str
    hashed_key: str
    private_key_encrypted: bytes
    last_report_at: datetime | None
    run_starts_at: datetime
    run_ends_at: datetime
    activated_at: datetime | None = None  # Tracker.activated_at: its start in this run

    @property
    def observed_from(self) -> datetime:
        """The earliest observation this run may have: the run's start or the tracker's
        activation in it, whichever is later (before it, the reports are not the run's)."""
        if self.activated_at is None:
            return self.run_starts_at
        return max(self.run_starts_at, self.activated_at)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """Ask from max(now - history, run start, activation, last report - late margin) to
        min(now, run end): the margin collects reports that were published late."""
        start = max(now - timedelta(days=settings.FINDMY_HISTORY_DAYS), self.observed_from)
        if self.last_report_at is not None:
            late = timedelta(hours=settings.FINDMY_LATE_REPORT_HOURS)
            start = max(start, self.last_report_at - late)
        return start, min(now, self.run_ends_at)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def ensure_fetch_states(*, now: datetime) -> int:
    """Give every fetchable tracker a queue row (trackers arrive from fleet without a hook)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {STATE} (tracker_id, next_due_at, backoff_factor, consecutive_misses,
                                 claimed_by, fetches_total, misses_total, reports_total,
                                 created_at)
            SELECT t.id, %(now)s, 1, 0, '', 0, 0, 0, %(now)s
            FROM {TRACKER} t JOIN {RUN} r ON r.id = t.production_run_id
            WHERE t.lifecycle_state = %(active)s
              AND r.starts_at <= %(now)s AND r.ends_at >= %(now)s
              AND NOT EXISTS (SELECT 1 FROM {STATE} s WHERE s.tracker_id = t.id)
            ON CONFLICT (tracker_id) DO NOTHING
            """,
            {"now": now, "active": ACTIVE},
        )
        return cursor.rowcount


def claim_trackers(
    *,
    limit: int,
    now: datetime,
    worker: str,
    lease_seconds: float | None = None,
    tracker_ids: Sequence[int] | None = None,
) -> list[Claim]:
    """Claim up to `limit` due trackers of live runs, oldest due first.

    With `tracker_ids`, those trackers are claimed even if not yet due (a manual fetch), but
    still only if fetchable and not leased by another worker.
    """
    lease = timedelta(
        seconds=settings.FINDMY_CLAIM_LEASE_SECONDS if lease_seconds is None else lease_seconds
    )
    params = {
        "now": now,
        "active": ACTIVE,
        "limit": limit,
        "until": now + lease,
        "worker": worker[:100],
        "ids": list(tracker_ids or []),
    }
    due = "s.tracker_id = ANY(%(ids)s)" if tracker_ids is not None else "s.next_due_at <= %(now)s"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                SELECT s.tracker_id
                FROM {STATE} s
                JOIN {TRACKER} t ON t.id = s.tracker_id
                JOIN {RUN} r ON r.id = t.production_run_id
                WHERE t.lifecycle_state = %(active)s
                  AND r.starts_at <= %(now)s AND r.ends_at >= %(now)s
                  AND {due}
                  AND (s.claimed_until IS NULL OR s.claimed_until < %(now)s)
                ORDER BY s.next_due_at, s.tracker_id
                LIMIT %(limit)s
                FOR UPDATE OF s SKIP LOCKED
            ), claimed AS (
                UPDATE {STATE} s SET claimed_until = %(until)s, claimed_by = %(worker)s
                FROM due WHERE s.tracker_id = due.tracker_id
                RETURNING s.tracker_id, s.next_due_at
            )
            SELECT t.id, t.mac_address, t.hashed_advertisement_key, t.private_key_encrypted,
                   t.last_report_at, r.starts_at, r.ends_at, t.activated_at
            FROM claimed c
            JOIN {TRACKER} t ON t.id = c.tracker_id
            JOIN {RUN} r ON r.id = t.production_run_id
            ORDER BY c.next_due_at, c.tracker_id
            """,
            params,
        )
        return [
            Claim(row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6], row[7])
            for row in cursor.fetchall()
        ]


def release_trackers(*, tracker_ids: Sequence[int], worker: str) -> None:
    """Give claims back untouched: the failure was not the trackers' fault."""
    if not tracker_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {STATE} SET claimed_until = NULL, claimed_by = '' "
            "WHERE tracker_id = ANY(%s) AND claimed_by = %s",
            [list(tracker_ids), worker[:100]],
        )


def record_answered(
    *,
    tracker_ids: Sequence[int],
    valid_by_tracker: dict[int, int],
    new_by_tracker: dict[int, int],
    now: datetime,
) -> None:
    """Apple answered for these trackers: a report resets the back-off, none doubles it."""
    interval = settings.FINDMY_FETCH_INTERVAL_MINUTES * 60.0
    cap = settings.FINDMY_MAX_BACKOFF_HOURS * 3600.0
    reported = [t for t in tracker_ids if valid_by_tracker.get(t)]
    missed = [t for t in tracker_ids if not valid_by_tracker.get(t)]
    with transaction.atomic(), connection.cursor() as cursor:
        if reported:
            cursor.execute(
                f"""
                UPDATE {STATE} s
                SET backoff_factor = 1, consecutive_misses = 0,
                    next_due_at = %(now)s + make_interval(secs => %(interval)s),
                    last_fetched_at = %(now)s, last_success_at = %(now)s,
                    fetches_total = fetches_total + 1,
                    reports_total = reports_total + v.new_reports,
                    claimed_until = NULL, claimed_by = ''
                FROM unnest(%(ids)s::bigint[], %(new)s::bigint[]) AS v(tracker_id, new_reports)
                WHERE s.tracker_id = v.tracker_id
                """,
                {
                    "now": now,
                    "interval": interval,
                    "ids": reported,
                    "new": [new_by_tracker.get(t, 0) for t in reported],
                },
            )
        if missed:
            # x2, x4, x8, ... until the delay reaches FINDMY_MAX_BACKOFF_HOURS, then it stays.
            factor = (
                "CASE WHEN %(interval)s * backoff_factor >= %(cap)s "
                "THEN backoff_factor ELSE backoff_factor * 2 END"
            )
            cursor.execute(
                f"""
                UPDATE {STATE}
                SET backoff_factor = {factor},
                    next_due_at = %(now)s + make_interval(
                        secs => LEAST(%(interval)s * ({factor}), %(cap)s)),
                    consecutive_misses = consecutive_misses + 1,
                    misses_total = misses_total + 1,
                    fetches_total = fetches_total + 1,
                    last_fetched_at = %(now)s,
                    claimed_until = NULL, claimed_by = ''
                WHERE tracker_id = ANY(%(ids)s)
                """,
                {"now": now, "interval": interval, "cap": cap, "ids": missed},
            )


def claim_account(*, now: datetime) -> int | None:
    """Take the account whose rate limit allows a request now, or None."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ACCOUNT} SET next_request_at = %(next)s,
                                 requests_total = requests_total + 1
            WHERE id = (
                SELECT id FROM {ACCOUNT}
                WHERE is_enabled AND health <> %(needs_login)s
                  AND next_request_at <= %(now)s
                  AND (backoff_until IS NULL OR backoff_until <= %(now)s)
                ORDER BY next_request_at, id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id
            """,
            {
                "now": now,
                "next": now + timedelta(seconds=settings.FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS),
                "needs_login": AppleAccount.Health.NEEDS_LOGIN,
            },
        )
        row = cursor.fetchone()
    return row[0] if row else None


def next_account_ready_at() -> datetime | None:
    """When the soonest usable account may send its next request (None: no usable account)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT min(GREATEST(next_request_at, COALESCE(backoff_until, next_request_at)))
            FROM {ACCOUNT} WHERE is_enabled AND health <> %s
            """,
            [AppleAccount.Health.NEEDS_LOGIN],
        )
        return cursor.fetchone()[0]

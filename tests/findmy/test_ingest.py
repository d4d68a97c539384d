"""Ingestion: decrypt in a batch, skip failures, store once, move the tracker to its newest fix."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from findmy import crypto
from findmy.ingest import IngestTarget, ingest_payloads, load_tracker_key
from tests.factories import ProductionRunFactory, TrackerFactory
from tracking import encryption
from tracking.models import LocationReport

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "findmy_vectors.json").read_text())


def target(tracker, **window):
    return IngestTarget(tracker.pk, load_tracker_key(tracker.private_key_encrypted), **window)


def report(tracker, at, lat=48.2, lon=16.37, accuracy=20):
    return crypto.encrypt_report(
        tracker.advertisement_key,
        observed_at=at,
        latitude=lat,
        longitude=lon,
        horizontal_accuracy=accuracy,
        status=0,
        confidence=2,
    )


@pytest.fixture
def tracker(db):
    return TrackerFactory(production_run=ProductionRunFactory())


def test_vector_reports_are_stored_with_their_values(db):
    run = ProductionRunFactory(
        starts_at=datetime(2001, 1, 2, tzinfo=UTC), ends_at=datetime(2100, 1, 1, tzinfo=UTC)
    )
    trackers = {}
    batches = []
    for vec in VECTORS["reports"]:
        key = VECTORS["keys"][vec["key_index"]]
        if vec["key_index"] not in trackers:
            trackers[vec["key_index"]] = TrackerFactory(
                production_run=run,
                mac_address=key["mac_address"],
                advertisement_key=base64.b64decode(key["advertisement_key_b64"]),
                hashed_advertisement_key=key["hashed_advertisement_key_b64"],
                private_key_encrypted=encryption.encrypt(base64.b64decode(key["private_key_b64"])),
            )
        batches.append((target(trackers[vec["key_index"]]), [base64.b64decode(vec["payload_b64"])]))
    result = ingest_payloads(batches=batches)
    assert (result.new, result.undecryptable) == (len(VECTORS["reports"]), 0)
    for vec in VECTORS["reports"]:
        expected = vec["expected"]
        stored = LocationReport.objects.get(
            tracker=trackers[vec["key_index"]],
            observed_at=datetime.fromtimestamp(expected["timestamp_unix"], UTC),
            confidence=expected["confidence"],
        )
        assert stored.point.y == pytest.approx(expected["latitude"], abs=1e-7)
        assert stored.point.x == pytest.approx(expected["longitude"], abs=1e-7)
        assert (stored.horizontal_accuracy, stored.status_byte) == (
            expected["horizontal_accuracy"],
            expected["status"],
        )


def test_duplicates_are_stored_once_within_and_across_batches(tracker):
    now = timezone.now().replace(microsecond=0)
    payloads = [report(tracker, now - timedelta(minutes=i)) for i in range(5)]
    first = ingest_payloads(batches=[(target(tracker), payloads + payloads[:2])])
    assert (first.returned, first.new, first.duplicate) == (7, 5, 2)
    second = ingest_payloads(batches=[(target(tracker), payloads)])
    assert (second.new, second.duplicate) == (0, 5)
    assert second.valid_by_tracker == {tracker.pk: 5}
    assert LocationReport.objects.count() == 5


def test_last_position_follows_the_newest_observation_not_the_newest_arrival(tracker):
    now = timezone.now().replace(microsecond=0)
    ingest_payloads(batches=[(target(tracker), [report(tracker, now, lat=10.0)])])
    # An older report arrives later: stored, but the position stays.
    ingest_payloads(
        batches=[(target(tracker), [report(tracker, now - timedelta(hours=3), lat=-33.5)])]
    )
    tracker.refresh_from_db()
    assert tracker.last_report_at == now
    assert tracker.last_point.y == pytest.approx(10.0)
    assert LocationReport.objects.filter(tracker=tracker).count() == 2
    # A newer one moves it; southern and western hemispheres keep their signs.
    ingest_payloads(
        batches=[
            (target(tracker), [report(tracker, now + timedelta(minutes=5), lat=-33.9, lon=-70.6)])
        ]
    )
    tracker.refresh_from_db()
    assert tracker.last_report_at == now + timedelta(minutes=5)
    assert (tracker.last_point.y, tracker.last_point.x) == (
        pytest.approx(-33.9),
        pytest.approx(-70.6),
    )


def test_undecryptable_payloads_are_counted_and_skipped(tracker):
    now = timezone.now().replace(microsecond=0)
    good = [report(tracker, now - timedelta(minutes=i)) for i in range(3)]
    damaged = good[0][:-1] + bytes((good[0][-1] ^ 1,))
    other = TrackerFactory()
    wrong_key = report(other, now)
    result = ingest_payloads(batches=[(target(tracker), [damaged, b"short", wrong_key, *good])])
    assert (result.new, result.undecryptable) == (3, 3)


def test_reports_outside_the_window_are_dropped(tracker):
    now = timezone.now().replace(microsecond=0)
    payloads = [report(tracker, now - timedelta(hours=h)) for h in (1, 5, 30)]
    result = ingest_payloads(
        batches=[
            (target(tracker, window_start=now - timedelta(hours=24), window_end=now), payloads)
        ]
    )
    assert (result.new, result.out_of_window) == (2, 1)


@pytest.fixture
def statements(tracker):
    """Every statement sent on the database connection, through Django or on the raw psycopg
    connection (COPY included), while the test runs."""
    raw = connection.connection
    base = raw.cursor_factory
    sent: list[str] = []

    class Counting(base):
        def execute(self, query, *args, **kwargs):
            sent.append(str(query))
            return super().execute(query, *args, **kwargs)

        def copy(self, statement, *args, **kwargs):
            sent.append(str(statement))
            return super().copy(statement, *args, **kwargs)

    raw.cursor_factory = Counting
    yield sent
    raw.cursor_factory = base


@pytest.mark.parametrize("size", [40, 400])
def test_ingest_is_set_based_whatever_the_batch_size(tracker, statements, size):
    now = timezone.now().replace(microsecond=0)
    payloads = [report(tracker, now - timedelta(minutes=i)) for i in range(size)]
    result = ingest_payloads(batches=[(target(tracker), payloads)])
    assert result.new == size and LocationReport.objects.count() == size
    copies = [s for s in statements if s.lstrip().startswith("COPY")]
    inserts = [s for s in statements if "INSERT INTO" in s]
    # One COPY and one INSERT ... ON CONFLICT per chunk, a few chunks whatever the size,
    # around a fixed handful of set-up statements: nothing per report.
    assert 1 <= len(copies) == len(inserts) <= 4
    assert len(statements) <= 6 + 3 * len(copies)


def test_big_batches_go_in_chunks_with_the_same_result(tracker):
    now = timezone.now().replace(microsecond=0)
    others = [TrackerFactory(production_run=tracker.production_run) for _ in range(2)]
    batches = []
    for t in [tracker, *others]:
        payloads = [report(t, now - timedelta(minutes=i), lat=i / 10) for i in range(150)]
        payloads.append(payloads[0][:-1] + bytes((payloads[0][-1] ^ 1,)))  # damaged
        batches.append((target(t), payloads + payloads[:5]))  # and repeated
    result = ingest_payloads(batches=batches, min_chunk_rows=10)
    assert (result.returned, result.new, result.duplicate, result.undecryptable) == (
        3 * 156,
        450,
        15,
        3,
    )
    assert result.new_by_tracker == {t.pk: 150 for t in [tracker, *others]}
    for t in [tracker, *others]:
        t.refresh_from_db()
        assert t.last_report_at == now and t.last_point.y == pytest.approx(0.0)


def test_a_failed_chunk_rolls_the_whole_batch_back(tracker, monkeypatch):
    from findmy import ingest

    now = timezone.now().replace(microsecond=0)
    payloads = [report(tracker, now - timedelta(minutes=i)) for i in range(60)]
    calls = []
    original = ingest._store_chunk

    def failing(raw, rows, received_at):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return original(raw, rows, received_at)

    monkeypatch.setattr(ingest, "_store_chunk", failing)
    with pytest.raises(RuntimeError):
        ingest_payloads(batches=[(target(tracker), payloads)], min_chunk_rows=10)
    assert len(calls) >= 2
    assert LocationReport.objects.count() == 0

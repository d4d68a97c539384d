"""Ingestion writes a tracker.first_report event for a tracker's first report ever, and a
tracker.back event for its first report after a silence, in the statement that stores it."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from findmy.ingest import ingest_payloads
from tests.factories import ProductionRunFactory, TrackerFactory
from tracking.models import Event

from .test_ingest import report, target


@pytest.fixture
def tracker(db):
    return TrackerFactory(production_run=ProductionRunFactory())


def test_first_report_is_announced_once(tracker):
    now = timezone.now()
    ingest_payloads(batches=[(target(tracker), [report(tracker, now - timedelta(hours=2))])])
    ingest_payloads(batches=[(target(tracker), [report(tracker, now - timedelta(hours=1))])])
    event = Event.objects.get()
    assert event.type == "tracker.first_report"
    assert (event.tracker_id, event.client_id) == (tracker.pk, tracker.client_id)
    assert event.payload["tracker"]["mac_address"] == tracker.mac_address
    assert event.payload["position"] == {"longitude": pytest.approx(16.37, abs=1e-5),
                                         "latitude": pytest.approx(48.2, abs=1e-5)}  # fmt: skip
    tracker.refresh_from_db()
    assert event.occurred_at < tracker.last_report_at


def test_no_event_when_the_ingest_rolls_back(tracker):
    with pytest.raises(RuntimeError), transaction.atomic():
        ingest_payloads(batches=[(target(tracker), [report(tracker, timezone.now())])])
        assert Event.objects.count() == 1
        raise RuntimeError("the surrounding change fails")
    assert not Event.objects.exists()


def test_back_after_silence_is_announced_once_per_silence(tracker):
    from tracking.services import events_record_silent

    tracker.lifecycle_state = tracker.Lifecycle.ACTIVE
    tracker.save(update_fields=["lifecycle_state"])
    hours = tracker.client.silent_after_hours
    now = timezone.now()
    ingest_payloads(
        batches=[(target(tracker), [report(tracker, now - timedelta(hours=hours + 5))])]
    )
    # A report that was observed before the silence began and only published now: no "back".
    ingest_payloads(
        batches=[(target(tracker), [report(tracker, now - timedelta(hours=hours + 4))])]
    )
    assert events_record_silent(now=now) == 1
    late = now - timedelta(hours=hours + 3)  # observed before the silence (+4 h + threshold)
    ingest_payloads(batches=[(target(tracker), [report(tracker, late)])])
    assert not Event.objects.filter(type="tracker.back").exists()

    ingest_payloads(batches=[(target(tracker), [report(tracker, now - timedelta(minutes=5))])])
    ingest_payloads(batches=[(target(tracker), [report(tracker, now - timedelta(minutes=1))])])
    back = Event.objects.get(type="tracker.back")
    assert abs(back.occurred_at - (now - timedelta(minutes=5))) < timedelta(seconds=2)
    assert back.payload["tracker"]["mac_address"] == tracker.mac_address
    assert back.payload["silent_since"] is not None
    assert events_record_silent(now=now) == 0  # it reports again: no new silence

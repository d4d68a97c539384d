"""Ingestion writes a tracker.first_report event for a tracker's first report ever, in the
same statement that stores the report."""

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

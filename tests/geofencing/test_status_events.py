"""The status engine writes its tracker.status_changed events to the outbox in its own
transaction, one per status change, set-based."""

import pytest
from django.db import transaction

from geofencing import services
from geofencing.models import StatusHistory
from tracking.models import Event, WebhookDelivery

from .conftest import DELIVERY, STORAGE, add_report, offset

VIENNA = (16.3725, 48.2082)


@pytest.mark.django_db
def test_every_status_change_has_its_event(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=300, name="Depot")
    shop = make_place(
        world.run_a, DELIVERY, *offset(*VIENNA, metres=5000), radius_m=300, name="Shop"
    )
    add_report(tracker_a, *VIENNA, minutes=0)
    add_report(tracker_a, *offset(*VIENNA, metres=2500), minutes=30)
    add_report(tracker_a, *offset(*VIENNA, metres=2600), minutes=40)
    add_report(tracker_a, *offset(*VIENNA, metres=5000), minutes=90)
    result = services.evaluate_statuses()

    changes = list(StatusHistory.objects.filter(tracker=tracker_a).order_by("at", "id"))
    events = list(Event.objects.filter(tracker=tracker_a).order_by("occurred_at"))
    assert result.transitions == len(changes) == len(events) >= 3
    assert [(e.payload["from_status"], e.payload["to_status"]) for e in events] == [
        (c.from_status, c.to_status) for c in changes
    ]
    last = events[-1]
    assert last.type == "tracker.status_changed" and last.client_id == world.client_a.pk
    assert last.payload["to_status"] == "DELIVERED"
    assert last.payload["place"] == {"id": shop.pk, "name": "Shop", "kind": "DELIVERY"}
    assert last.payload["tracker"]["mac_address"] == tracker_a.mac_address
    assert last.occurred_at == changes[-1].at
    assert not WebhookDelivery.objects.exists()  # delivery is Celery's job, never the engine's

    assert services.evaluate_statuses().transitions == 0
    assert Event.objects.count() == len(events)  # run twice: nothing new


@pytest.mark.django_db
def test_a_rolled_back_evaluation_leaves_no_event(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=300, name="Depot")
    add_report(tracker_a, *VIENNA, minutes=0)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert services.evaluate_statuses().transitions == 1
        assert Event.objects.count() == 1
        raise RuntimeError("the evaluation's transaction fails after it wrote")
    assert not Event.objects.exists() and not StatusHistory.objects.exists()

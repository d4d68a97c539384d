"""The status engine writes its events to the outbox in its own transaction, set-based: a
tracker.status_changed per status change, and what the change means for customers (arrived,
left, delivered, moved after delivery), their payloads built when read."""

import pytest
from django.db import transaction

from geofencing import services
from geofencing.models import StatusHistory
from tests.factories import TrackerFactory
from tracking.events import event_payloads
from tracking.models import AlertRule, Event, WebhookDelivery, WebhookEndpoint

from .conftest import DELIVERY, STORAGE, add_report, offset

VIENNA = (16.3725, 48.2082)


def _listen(world, types=None):
    """Client A's alert rule names the customer types: the engine writes them for A."""
    AlertRule.objects.update_or_create(
        client=world.client_a,
        defaults={"event_types": types or [t for t in Event.Type.values]},
    )


def _events(tracker, *types):
    events = list(
        Event.objects.filter(tracker=tracker, type__in=types or Event.Type.values).order_by(
            "occurred_at", "created_at"
        )
    )
    payloads = event_payloads(events)
    return [(e, payloads[e.id]) for e in events]


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
    events = _events(tracker_a, Event.Type.STATUS_CHANGED)
    assert result.transitions == len(changes) == len(events) >= 3
    assert all(e.payload is None for e, _ in events)  # built when read, never stored
    assert [(p["from_status"], p["to_status"]) for _, p in events] == [
        (c.from_status, c.to_status) for c in changes
    ]
    last, payload = events[-1]
    assert last.type == "tracker.status_changed" and last.client_id == world.client_a.pk
    assert payload["to_status"] == "DELIVERED"
    assert payload["place"] == {"id": shop.pk, "name": "Shop", "kind": "DELIVERY"}
    assert payload["tracker"]["mac_address"] == tracker_a.mac_address
    assert last.occurred_at == changes[-1].at
    assert not WebhookDelivery.objects.exists()  # delivery is Celery's job, never the engine's

    before = Event.objects.count()
    assert services.evaluate_statuses().transitions == 0
    assert Event.objects.count() == before  # run twice: nothing new


@pytest.mark.django_db
def test_arrived_left_delivered_and_moved_after_delivery(world, tracker_a, make_place):
    """Depot (storage) -> transit -> Shop (delivery) -> carried off again: each customer
    event once, about the right place, at the change's report time."""
    _listen(world)
    depot = make_place(world.run_a, STORAGE, *VIENNA, radius_m=300, name="Depot")
    shop_at = offset(*VIENNA, metres=5000)
    shop = make_place(world.run_a, DELIVERY, *shop_at, radius_m=300, name="Shop")
    add_report(tracker_a, *VIENNA, minutes=0)  # arrives at the depot
    add_report(tracker_a, *offset(*VIENNA, metres=2500), minutes=30)  # leaves (2 reports)
    add_report(tracker_a, *offset(*VIENNA, metres=2600), minutes=40)
    add_report(tracker_a, *shop_at, minutes=90)  # delivered
    add_report(tracker_a, *shop_at, minutes=120)
    add_report(tracker_a, *offset(*shop_at, metres=3000), minutes=200)  # carried off
    add_report(tracker_a, *offset(*shop_at, metres=4000), minutes=210)
    services.evaluate_statuses()

    def seen(type_):
        return [
            (p["place"]["name"] if p["place"] else None, e.place_id, e.occurred_at)
            for e, p in _events(tracker_a, type_)
        ]

    history = {
        (c.from_status, c.to_status): c.at for c in StatusHistory.objects.filter(tracker=tracker_a)
    }
    left_depot = history[("IN_STORAGE", "IN_TRANSIT")]
    delivered = history[("IN_TRANSIT", "DELIVERED")]
    carried_off = history[("DELIVERED", "IN_TRANSIT")]
    assert seen(Event.Type.ARRIVED) == [
        ("Depot", depot.pk, history[("UNKNOWN", "IN_STORAGE")]),
        ("Shop", shop.pk, delivered),
    ]
    assert seen(Event.Type.LEFT) == [
        ("Depot", depot.pk, left_depot),
        ("Shop", shop.pk, carried_off),
    ]
    assert seen(Event.Type.DELIVERED) == [("Shop", shop.pk, delivered)]
    assert seen(Event.Type.MOVED_AFTER_DELIVERY) == [("Shop", shop.pk, carried_off)]
    [(event, payload)] = _events(tracker_a, Event.Type.MOVED_AFTER_DELIVERY)
    assert payload["from_status"] == "DELIVERED" and payload["to_status"] == "IN_TRANSIT"
    assert payload["from_place"]["name"] == "Shop"


@pytest.mark.django_db
def test_a_tracker_that_stays_at_its_place_makes_no_event(world, tracker_a, make_place):
    _listen(world)
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=300, name="Shop")
    add_report(tracker_a, *VIENNA, minutes=0)
    services.evaluate_statuses()
    count = Event.objects.filter(tracker=tracker_a).count()
    assert count == 3  # status changed, arrived, delivered
    add_report(tracker_a, *offset(*VIENNA, metres=50), minutes=10)
    add_report(tracker_a, *offset(*VIENNA, metres=400), minutes=20)  # one report out: a flap
    add_report(tracker_a, *VIENNA, minutes=30)
    services.evaluate_statuses()
    assert Event.objects.filter(tracker=tracker_a).count() == count


@pytest.mark.django_db
def test_a_rolled_back_evaluation_leaves_no_event(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=300, name="Depot")
    add_report(tracker_a, *VIENNA, minutes=0)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert services.evaluate_statuses().transitions == 1
        assert Event.objects.count() == 1  # status changed (nobody listens to arrivals)
        raise RuntimeError("the evaluation's transaction fails after it wrote")
    assert not Event.objects.exists() and not StatusHistory.objects.exists()


@pytest.mark.django_db
def test_customer_events_are_written_for_the_clients_that_listen(world, tracker_a, make_place):
    """Nobody listening: only status_changed. A's enabled webhook endpoint for "delivered":
    that type too, for A's trackers only; a disabled endpoint listens to nothing."""
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=300, name="Shop")
    make_place(world.run_b, DELIVERY, *VIENNA, radius_m=300, name="B's shop")
    endpoint = WebhookEndpoint.objects.create(
        client=world.client_a, url="https://example.com/hook", event_types=["tracker.delivered"],
        enabled=False, secret_encrypted=b"x",
    )  # fmt: skip
    add_report(tracker_a, *VIENNA, minutes=0)
    services.evaluate_statuses()
    assert list(Event.objects.values_list("type", flat=True)) == ["tracker.status_changed"]

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(enabled=True)
    later_a = TrackerFactory(production_run=world.run_a)
    tracker_b = TrackerFactory(production_run=world.run_b)
    add_report(later_a, *VIENNA, minutes=10)
    add_report(tracker_b, *VIENNA, minutes=10)
    services.evaluate_statuses()
    assert sorted(Event.objects.filter(tracker=later_a).values_list("type", flat=True)) == [
        "tracker.delivered",
        "tracker.status_changed",
    ]
    assert list(Event.objects.filter(tracker=tracker_b).values_list("type", flat=True)) == [
        "tracker.status_changed"
    ]

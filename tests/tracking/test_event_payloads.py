"""The outbox's lazy payloads: the builder registry (tracking.events) and the webhook fan-out
that builds, stores and sends them."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from tracking import events, services, webhooks
from tracking.models import Event

from .receiver import WebhookReceiver


@pytest.fixture
def registry(monkeypatch):
    """An empty registry for the test (the apps' own builders come back after it)."""
    monkeypatch.setattr(events, "_builders", {})
    return events


@pytest.fixture
def receiver():
    made = WebhookReceiver()
    yield made
    made.stop()


def _unbuilt(world, type_: str, *, tracker=None, source_id: int = 0) -> Event:
    tracker = tracker or world.tracker_a
    return Event.objects.create(
        type=type_,
        client_id=tracker.client_id,
        tracker=tracker,
        payload=None,
        source_id=source_id,
        occurred_at=timezone.now(),
    )


def _recording_builder(calls: list):
    def build(batch: list[Event]) -> dict:
        calls.append(sorted(e.source_id for e in batch))
        return {e.id: {"built_from": e.source_id, "type": e.type} for e in batch}

    return build


@pytest.mark.django_db
def test_stored_payloads_come_as_stored_and_each_builder_runs_once_per_batch(world, registry):
    calls: list = []
    registry.register_payload_builder(
        [Event.Type.ARRIVED, Event.Type.LEFT], _recording_builder(calls)
    )
    stored = services.event_record(
        type=Event.Type.ARRIVED, tracker=world.tracker_a, payload={"kept": 1},
        occurred_at=timezone.now(),
    )  # fmt: skip
    arrived = [_unbuilt(world, Event.Type.ARRIVED, source_id=i) for i in (1, 2, 3)]
    left = _unbuilt(world, Event.Type.LEFT, source_id=4)

    got = registry.event_payloads(Event.objects.all())

    assert calls == [[1, 2, 3, 4]]  # one call for every unbuilt event of its types
    assert got[stored.id] == {"kept": 1}
    assert got[left.id] == {"built_from": 4, "type": "tracker.left"}
    assert [got[e.id]["built_from"] for e in arrived] == [1, 2, 3]


@pytest.mark.django_db
def test_an_unbuilt_event_without_a_builder_is_an_error_naming_it(world, registry):
    event = _unbuilt(world, Event.Type.DELIVERED)
    with pytest.raises(events.NoPayloadBuilder, match=f"{event.id}.*tracker.delivered"):
        registry.event_payloads([event])


def test_a_type_takes_one_builder(registry):
    first, second = _recording_builder([]), _recording_builder([])
    registry.register_payload_builder([Event.Type.LEFT], first)
    registry.register_payload_builder([Event.Type.LEFT], first)  # again: harmless
    with pytest.raises(ValueError, match="already has a payload builder"):
        registry.register_payload_builder([Event.Type.LEFT], second)
    with pytest.raises(ValueError, match="unknown event type 'tracker.nope'"):
        registry.payload_builder("tracker.nope")(second)
    assert registry.has_payload_builder(Event.Type.LEFT)
    assert not registry.has_payload_builder(Event.Type.ARRIVED)


@pytest.mark.django_db
def test_the_fan_out_builds_wanted_payloads_once_and_stores_them(world, registry, receiver):
    calls: list = []
    registry.register_payload_builder(
        [Event.Type.ARRIVED, Event.Type.LEFT], _recording_builder(calls)
    )
    services.webhook_create(
        user=world.a_admin, client=world.client_a, url=receiver.url,
        event_types=[Event.Type.ARRIVED],
    )  # fmt: skip
    wanted = [_unbuilt(world, Event.Type.ARRIVED, source_id=i) for i in (10, 11)]
    unwanted = _unbuilt(world, Event.Type.LEFT, source_id=12)  # no endpoint wants it

    result = webhooks.deliver_due()

    assert (result.events, result.sent, result.delivered) == (3, 2, 2)
    assert calls == [[10, 11]]  # built once, for the wanted events only
    bodies = sorted((json.loads(r.body) for r in receiver.received), key=lambda b: b["id"])
    assert [b["id"] for b in bodies] == sorted(str(e.id) for e in wanted)
    for body in bodies:
        event = Event.objects.get(pk=body["id"])
        assert body["data"] == event.payload  # stored: every attempt sends the same body
        assert body["data"]["type"] == "tracker.arrived"
        assert body["data"]["built_from"] == event.source_id
    assert Event.objects.get(pk=unwanted.pk).payload is None

"""Webhooks: the outbox, signatures, retries, give-up, a crashed worker, rolled-back changes.

Deliveries go to a real HTTP receiver on 127.0.0.1; the tests about the worker run a real
Celery worker (own Redis database and queue), and the crash test kills it with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone

from geofencing import services as geofencing
from tests.geofencing.conftest import add_report
from tests.workers import send_task, start_worker, stop_worker
from tracking import services, webhooks
from tracking.models import Event, Tracker, WebhookDelivery, WebhookEndpoint

from .receiver import WebhookReceiver


@pytest.fixture
def receiver():
    made = []

    def make(**kwargs) -> WebhookReceiver:
        made.append(WebhookReceiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.stop()


def _endpoint(world, url: str, types=("tracker.status_changed",)):
    created = services.webhook_create(
        user=world.a_admin, client=world.client_a, url=url, event_types=list(types)
    )
    return created.endpoint, created.secret.encode()


def _event(world, type_="tracker.status_changed", **payload) -> Event:
    return services.event_record(
        type=type_,
        tracker=world.tracker_a,
        payload={"to_status": "DELIVERED", **payload},
        occurred_at=timezone.now(),
    )


def test_signature_verifies_and_the_body_is_the_event(world, receiver):
    hook = receiver()
    endpoint, secret = _endpoint(world, hook.url)
    _endpoint(world, hook.url + "/other-types", types=["tracker.silent"])
    event = _event(world)
    services.event_record(
        type="tracker.status_changed",
        tracker=world.tracker_b,
        payload={},
        occurred_at=event.occurred_at,
    )  # client B's: never sent to A's endpoint

    result = webhooks.deliver_due()
    assert (result.sent, result.delivered) == (1, 1)
    [got] = hook.received
    body = json.loads(got.body)
    assert body["id"] == str(event.id) == got.headers["Webhook-Id"]
    assert body["type"] == "tracker.status_changed" and body["data"]["to_status"] == "DELIVERED"
    assert body["client"] == world.client_a.pk
    now = time.time()
    assert webhooks.verify(secret, got.headers["Webhook-Signature"], got.body, now=now)
    assert not webhooks.verify(secret, got.headers["Webhook-Signature"], got.body + b" ", now=now)
    assert not webhooks.verify(b"other", got.headers["Webhook-Signature"], got.body, now=now)
    assert not webhooks.verify(
        secret, got.headers["Webhook-Signature"], got.body, now=now + 3600
    )  # a replay an hour later
    assert WebhookDelivery.objects.get().state == "DELIVERED"
    assert webhooks.deliver_due().sent == 0  # nothing twice


def test_events_are_not_sent_for_rolled_back_changes(world, receiver):
    hook = receiver()
    _endpoint(world, hook.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        Tracker.objects.filter(pk=world.tracker_a.pk).update(status="DELIVERED")
        _event(world)
        raise RuntimeError("the change fails after its event was written")
    assert not Event.objects.exists()
    assert webhooks.deliver_due().sent == 0
    assert hook.received == []


def test_failed_delivery_backs_off_then_gives_up_and_marks_the_endpoint(world, receiver, settings):
    hook = receiver(script=[503] * 10)
    endpoint, _ = _endpoint(world, hook.url)
    _event(world)
    settings.WEBHOOK_BACKOFF_BASE_SECONDS = 30
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("PENDING", 1, 503)
    assert (
        timedelta(seconds=29) < delivery.next_attempt_at - timezone.now() <= timedelta(seconds=30)
    )
    assert webhooks.backoff(3) == timedelta(seconds=120)  # doubles
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 3600
    assert webhooks.backoff(20) == timedelta(seconds=3600)  # capped

    # 25 hours later, the next failure is the last.
    WebhookDelivery.objects.update(
        next_attempt_at=timezone.now(), first_attempt_at=timezone.now() - timedelta(hours=25)
    )
    webhooks.deliver_due()
    delivery.refresh_from_db()
    endpoint.refresh_from_db()
    assert delivery.state == "FAILED" and delivery.attempts == 2
    assert endpoint.failing_since is not None
    assert len(hook.received) == 2


def test_the_portal_shows_a_failing_endpoint_to_the_client_admin(client, world):
    endpoint, _ = _endpoint(world, "https://hooks.example.com/x")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
    client.force_login(world.a_admin)
    page = client.get("/integrations/").content.decode()
    assert "Failing since" in page and "https://hooks.example.com/x" in page


def test_silent_trackers_are_announced_once_per_silence(world, settings):
    now = timezone.now()
    world.client_a.silent_after_hours = 6
    world.client_a.save()
    Tracker.objects.filter(pk=world.tracker_a.pk).update(last_report_at=now - timedelta(hours=7))
    Tracker.objects.filter(pk=world.tracker_b.pk).update(last_report_at=now - timedelta(hours=7))
    assert services.events_record_silent(now=now) == 1  # B's client waits 24 h
    assert services.events_record_silent(now=now) == 0
    event = Event.objects.get()
    assert (event.type, event.tracker_id) == ("tracker.silent", world.tracker_a.pk)
    assert event.payload["silent_after_hours"] == 6
    # It reports again, then falls silent again: a new event.
    Tracker.objects.filter(pk=world.tracker_a.pk).update(last_report_at=now - timedelta(hours=1))
    later = now + timedelta(hours=6)
    assert services.events_record_silent(now=later) == 1


# --- through a real Celery worker --------------------------------------------------------


def _start_worker(queue: str):
    return start_worker(
        queue,
        WEBHOOK_BACKOFF_BASE_SECONDS="0.3",
        WEBHOOK_LEASE_SECONDS="3",
        WEBHOOK_TIMEOUT_SECONDS="30",
    )


def _send(queue: str) -> None:
    send_task("tracking.tasks.deliver_webhooks", queue)


def _wait_for(condition, worker, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        assert worker.poll() is None, worker.stdout.read()
        time.sleep(0.2)
    raise AssertionError("timed out")


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_receiver_failing_three_times_gets_the_event_on_the_fourth_try_exactly_once(
    world, receiver
):
    hook = receiver(script=[500, 502, 503])
    _endpoint(world, hook.url)
    event = _event(world)
    queue = f"webhooks-test-{os.getpid()}-retry"
    worker = _start_worker(queue)
    try:
        _send(queue)
        _wait_for(lambda: WebhookDelivery.objects.filter(state="DELIVERED").exists(), worker)
        time.sleep(2)  # time for a duplicate to show up, if there were one
    finally:
        stop_worker(worker)
    assert [r.answered for r in hook.received] == [500, 502, 503, 200]
    assert {r.headers["Webhook-Id"] for r in hook.received} == {str(event.id)}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempts, delivery.last_status_code) == (4, 200)


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_loses_nothing(world, receiver):
    hook = receiver(hold_first=True)
    _endpoint(world, hook.url)
    event = _event(world)
    queue = f"webhooks-test-{os.getpid()}-kill"
    first = _start_worker(queue)
    try:
        _send(queue)
        assert hook.holding.wait(60), "the first worker never sent the event"
        first.send_signal(signal.SIGKILL)  # dies with the request in flight
        first.wait(20)
    finally:
        stop_worker(first)
    hook.release()
    assert WebhookDelivery.objects.get().state == "PENDING"

    second = _start_worker(queue)
    try:
        _send(queue)  # what beat does every minute
        _wait_for(lambda: WebhookDelivery.objects.filter(state="DELIVERED").exists(), second)
    finally:
        stop_worker(second)
    assert [r.answered for r in hook.received] == [None, 200]
    assert {r.headers["Webhook-Id"] for r in hook.received} == {str(event.id)}
    assert WebhookDelivery.objects.get().attempts == 2


def test_deliveries_to_the_platforms_own_network_are_refused(world, receiver, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
    hook = receiver()
    _endpoint(world, hook.url)
    _event(world)
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert hook.received == []
    assert delivery.state == "PENDING" and "not a public address" in delivery.last_error
    for url in ("http://localhost:8000/x", "http://169.254.169.254/latest/", "http://[::1]/"):
        assert webhooks.refused_target(url), url


def test_the_engines_customer_events_reach_webhooks_with_built_payloads(world, receiver):
    """A real status-engine run: the endpoint for arrived and delivered gets both, their
    payloads built from the status history (the engine stores none) and stored for retries."""
    hook = receiver()
    _endpoint(world, hook.url, types=["tracker.arrived", "tracker.delivered"])
    shop = geofencing.place_create(
        client=world.client_a, kind="DELIVERY", name="Shop", radius_m=200,
        point=Point(16.3725, 48.2082, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip
    add_report(world.tracker_a, 16.3725, 48.2082)
    assert geofencing.evaluate_statuses().transitions == 1
    assert Event.objects.filter(payload__isnull=True).count() == 3  # + status_changed

    result = webhooks.deliver_due()
    assert (result.sent, result.delivered) == (2, 2)
    bodies = sorted((json.loads(got.body) for got in hook.received), key=lambda b: b["type"])
    assert [b["type"] for b in bodies] == ["tracker.arrived", "tracker.delivered"]
    for body in bodies:
        assert body["data"]["place"] == {"id": shop.pk, "name": "Shop", "kind": "DELIVERY"}
        assert body["data"]["to_status"] == "DELIVERED"
        assert body["data"]["tracker"]["mac_address"] == world.tracker_a.mac_address
    stored = Event.objects.get(type="tracker.delivered").payload
    assert stored == bodies[1]["data"]  # what a retry sends

"""Delivering the event outbox to webhook endpoints.

1. Fan-out: events not yet dispatched become one WebhookDelivery per enabled endpoint of
   their client that wants their type (one statement; the events are marked dispatched in
   the same transaction, and rows locked by a concurrent fan-out are skipped). Events stored
   without a payload get it built and stored then (tracking.events.event_payloads), in bulk,
   when an endpoint wants them.
2. Claim: due deliveries are leased (next_attempt_at moves past the lease, attempts + 1) and
   committed before any request is sent. A worker killed mid-delivery leaves its rows to come
   due again when the lease runs out: at-least-once, and receivers deduplicate by event id.
3. Send: POST the event, signed with HMAC-SHA256 over "{timestamp}.{body}" with the endpoint's
   secret. 2xx is delivered; anything else is tried again after base * 2**(attempts - 1)
   seconds (at most the max), until WEBHOOK_RETRY_HOURS after the first attempt: then the
   delivery is FAILED and the endpoint marked failing (shown in the portal).

Nothing here runs inside the status engine or ingestion: they only write events, so a slow
or failing receiver never slows them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import alerts
from .events import event_payloads
from .models import Event, WebhookDelivery, WebhookEndpoint
from .services import webhook_secret

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Webhook-Signature"
ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"

_D = WebhookDelivery._meta.db_table
_E = Event._meta.db_table
_W = WebhookEndpoint._meta.db_table


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The Webhook-Signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, header: str, body: bytes, *, now: float, tolerance: int = 300) -> bool:
    """What a receiver does: recompute the HMAC and refuse old timestamps (replays)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


_FAN_OUT_SQL = f"""
WITH picked AS (
    SELECT id, client_id, type, payload IS NULL AS unbuilt FROM {_E}
    WHERE dispatched_at IS NULL
    ORDER BY created_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), made AS (
    INSERT INTO {_D} (endpoint_id, event_id, state, attempts, next_attempt_at, last_error,
                      created_at)
    SELECT w.id, p.id, %(pending)s, 0, %(now)s, '', %(now)s
    FROM picked p
    JOIN {_W} w ON w.client_id = p.client_id AND w.enabled
               AND w.event_types @> jsonb_build_array(p.type)
    ON CONFLICT (endpoint_id, event_id) DO NOTHING
    RETURNING event_id
), marked AS (
    UPDATE {_E} e SET dispatched_at = %(now)s FROM picked p WHERE e.id = p.id RETURNING 1
)
SELECT (SELECT count(*) FROM marked), (SELECT count(*) FROM made),
       ARRAY(SELECT DISTINCT m.event_id FROM made m JOIN picked p ON p.id = m.event_id
             WHERE p.unbuilt)
"""

# The payloads built for the events that got deliveries, stored on them: every attempt of a
# delivery sends the same body.
_STORE_PAYLOADS_SQL = f"""
UPDATE {_E} e SET payload = b.payload
FROM unnest(%(ids)s::uuid[], %(payloads)s::jsonb[]) AS b(id, payload)
WHERE e.id = b.id AND e.payload IS NULL
"""


@transaction.atomic
def events_fan_out(*, limit: int = 5000) -> tuple[int, int]:
    """Deliveries for undispatched events. Returns (events dispatched, deliveries made).

    Events stored without a payload (tracking.events) get it built here, in one builder call
    per type, when at least one endpoint wants them; the others are never built."""
    with connection.cursor() as cursor:
        cursor.execute(
            _FAN_OUT_SQL,
            {"limit": limit, "now": timezone.now(), "pending": WebhookDelivery.State.PENDING},
        )
        events, deliveries, unbuilt = cursor.fetchone()
        if unbuilt:
            payloads = event_payloads(Event.objects.filter(pk__in=unbuilt))
            ids = list(payloads)
            cursor.execute(
                _STORE_PAYLOADS_SQL,
                {"ids": ids, "payloads": [json.dumps(payloads[i]) for i in ids]},
            )
    return events, deliveries


_CLAIM_SQL = f"""
UPDATE {_D} d
SET next_attempt_at = %(now)s + make_interval(secs => %(lease)s),
    attempts = d.attempts + 1,
    first_attempt_at = COALESCE(d.first_attempt_at, %(now)s),
    last_attempt_at = %(now)s
WHERE d.id IN (
    SELECT d2.id FROM {_D} d2
    JOIN {_W} w ON w.id = d2.endpoint_id AND w.enabled
    WHERE d2.state = %(pending)s AND d2.next_attempt_at <= %(now)s
    ORDER BY d2.next_attempt_at
    LIMIT %(limit)s
    FOR UPDATE OF d2 SKIP LOCKED
)
RETURNING d.id
"""


def deliveries_claim(*, limit: int) -> list[int]:
    """Lease due deliveries (committed at once, so the lease outlives this worker)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL,
            {
                "now": timezone.now(),
                "lease": float(settings.WEBHOOK_LEASE_SECONDS),
                "limit": limit,
                "pending": WebhookDelivery.State.PENDING,
            },
        )
        return [row[0] for row in cursor.fetchall()]


def event_body(event: Event) -> bytes:
    data = event.payload
    if data is None:  # the fan-out stores it; built here only for a delivery made before
        data = event_payloads([event])[event.id]
    return json.dumps(
        {
            "id": str(event.id),
            "type": event.type,
            "occurred_at": event.occurred_at.isoformat(),
            "created_at": event.created_at.isoformat(),
            "client": event.client_id,
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None
    error: str


def refused_target(url: str) -> str:
    """Why a delivery to `url` is refused ("" when it is not): a partner's URL must not reach
    the platform's own network (loopback, private, link-local addresses), unless
    WEBHOOK_ALLOW_PRIVATE_TARGETS (development and tests, whose receivers run on 127.0.0.1)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_TARGETS:
        return ""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (socket.gaierror, UnicodeError):
        return f"cannot resolve {host!r}"
    for address in sorted(addresses):
        if not ipaddress.ip_address(address.split("%", 1)[0]).is_global:
            return f"{host!r} resolves to {address}, which is not a public address"
    return ""


def _post(endpoint: WebhookEndpoint, event: Event, client: httpx.Client) -> Outcome:
    refused = refused_target(endpoint.url)
    if refused:
        return Outcome(False, None, f"refused: {refused}"[:300])
    body = event_body(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tracker-platform-webhooks/1",
        ID_HEADER: str(event.id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(webhook_secret(endpoint), timestamp, body),
    }
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])
    if 200 <= response.status_code < 300:
        return Outcome(True, response.status_code, "")
    return Outcome(False, response.status_code, f"HTTP {response.status_code}")


def backoff(attempts: int) -> timedelta:
    base = float(settings.WEBHOOK_BACKOFF_BASE_SECONDS)
    seconds = min(base * 2 ** max(0, attempts - 1), float(settings.WEBHOOK_BACKOFF_MAX_SECONDS))
    return timedelta(seconds=seconds)


@transaction.atomic
def _record(delivery: WebhookDelivery, outcome: Outcome, *, now: datetime) -> None:
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    endpoint = WebhookEndpoint.objects.filter(pk=delivery.endpoint_id)
    if outcome.ok:
        delivery.state = WebhookDelivery.State.DELIVERED
        delivery.delivered_at = now
        endpoint.filter(failing_since__isnull=False).update(failing_since=None)
    elif now - delivery.first_attempt_at >= timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
        delivery.state = WebhookDelivery.State.FAILED
        endpoint.filter(failing_since__isnull=True).update(failing_since=now)
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    delivery.save(
        update_fields=[
            "state",
            "delivered_at",
            "next_attempt_at",
            "last_status_code",
            "last_error",
        ]
    )


@dataclass(frozen=True)
class DeliveryRound:
    events: int
    deliveries_made: int
    sent: int
    delivered: int
    next_due_in: float | None  # seconds until the next pending delivery is due, if any


def deliver_due(*, max_seconds: float = 50.0) -> DeliveryRound:
    """Fan out new events, then send due deliveries until none is due or time is up."""
    events, made = events_fan_out()
    sent = delivered = 0
    started = time.monotonic()
    with httpx.Client(timeout=settings.WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False) as client:
        while time.monotonic() - started < max_seconds:
            ids = deliveries_claim(limit=settings.WEBHOOK_BATCH_SIZE)
            if not ids:
                break
            rows = WebhookDelivery.objects.filter(pk__in=ids).select_related("endpoint", "event")
            for delivery in rows.order_by("next_attempt_at", "id"):
                outcome = _post(delivery.endpoint, delivery.event, client)
                _record(delivery, outcome, now=timezone.now())
                sent += 1
                delivered += outcome.ok
                if not outcome.ok:
                    logger.info(
                        "webhook %s event %s attempt %s failed: %s",
                        delivery.endpoint_id,
                        delivery.event_id,
                        delivery.attempts,
                        outcome.error,
                    )
    upcoming = (
        WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, endpoint__enabled=True)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    next_due_in = None
    if upcoming is not None:
        next_due_in = max(0.0, (upcoming - timezone.now()).total_seconds())
    return DeliveryRound(events, made, sent, delivered, next_due_in)


def dispatch_soon() -> None:
    """Called by writers of events inside their transaction: once it commits, queue a
    delivery run instead of waiting for the beat schedule (every minute). A broker that is
    down only delays delivery: the events are in the database. Customer alerts read the
    same events: their run is queued too."""
    if settings.WEBHOOK_DISPATCH_ON_COMMIT:
        transaction.on_commit(_queue_delivery_run)
    alerts.notify_soon()


def _queue_delivery_run() -> None:
    from .tasks import deliver_webhooks_task

    try:
        deliver_webhooks_task.apply_async(retry=False)
    except Exception:  # noqa: BLE001 (any broker failure: beat picks the events up)
        logger.warning("could not queue a webhook delivery run; beat will", exc_info=True)

"""Writes of the partner-facing data: API keys, the event outbox, webhook endpoints, and the
share links customers give to people without an account. The delivery of events to
webhooks lives in tracking/webhooks.py (it talks HTTP); this module only records.

Every function is keyword-only and atomic."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .. import encryption
from ..models import (
    ApiKey,
    AuditEvent,
    Client,
    Event,
    Membership,
    ProductionRun,
    ShareLink,
    Tracker,
    WebhookEndpoint,
)
from .tenancy import _require_admin

API_KEY_PREFIX = "tpk_"


# --- API keys ----------------------------------------------------------------------------


def api_key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    key: ApiKey
    secret: str  # shown once, never stored


@transaction.atomic
def api_key_create(*, user, client: Client, name: str, role: str) -> IssuedApiKey:
    """A new key for `client`, made by one of its admins. The secret is returned once."""
    _require_admin(user=user, client=client)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Give the key a name."})
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"{role!r} is not a role ({', '.join(Membership.Role)})."})
    if ApiKey.objects.filter(client=client, name=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": f'An active key named "{name}" exists already.'})
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        client=client,
        name=name,
        role=role,
        prefix=prefix,
        secret_hash=api_key_hash(secret),
        created_by=user,
    )
    AuditEvent.objects.create(
        actor=user,
        action="api_key.create",
        client=client,
        target=f"{name} ({prefix})",
        details={"role": role},
    )
    return IssuedApiKey(key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, user, key: ApiKey) -> ApiKey:
    _require_admin(user=user, client=key.client)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        AuditEvent.objects.create(
            actor=user, action="api_key.revoke", client=key.client, target=str(key)
        )
    return key


def api_key_touch(*, key: ApiKey, at: datetime, every_seconds: int) -> None:
    """Record the key's use, at most once per `every_seconds`: a write per request would
    cost more than the request."""
    if key.last_used_at is not None and key.last_used_at > at - timedelta(seconds=every_seconds):
        return
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=at)


# --- The event outbox --------------------------------------------------------------------


def event_record(*, type: str, tracker: Tracker, payload: dict, occurred_at: datetime) -> Event:
    """One event, in the caller's transaction. Bulk writers use their own INSERT ... SELECT
    into the same table (see the status engine) with the same payload shape."""
    return Event.objects.create(
        type=type,
        client_id=tracker.client_id,
        tracker=tracker,
        payload=payload,
        occurred_at=occurred_at,
    )


# Trackers that have not reported for their client's silent_after_hours and were not yet
# announced silent since their last report: one event each, in one statement.
_SILENT_SQL = f"""
INSERT INTO {Event._meta.db_table}
    (id, type, client_id, tracker_id, payload, occurred_at, created_at)
SELECT gen_random_uuid(), %(type)s, t.client_id, t.id,
       jsonb_build_object(
           'tracker', jsonb_build_object('id', t.id, 'mac_address', t.mac_address,
                                         'label', t.label,
                                         'production_run', t.production_run_id),
           'last_report_at', t.last_report_at,
           'silent_after_hours', c.silent_after_hours),
       t.last_report_at + make_interval(hours => c.silent_after_hours), %(now)s
FROM {Tracker._meta.db_table} t
JOIN {Client._meta.db_table} c ON c.id = t.client_id
WHERE t.lifecycle_state = %(active)s
  AND t.last_report_at IS NOT NULL
  AND t.last_report_at < %(now)s - make_interval(hours => c.silent_after_hours)
  AND NOT EXISTS (
      SELECT 1 FROM {Event._meta.db_table} e
      -- the type as a literal: the planner then matches the partial index event_silent_tracker_at
      WHERE e.tracker_id = t.id AND e.type = '{Event.Type.SILENT.value}'
        AND e.occurred_at > t.last_report_at)
"""


@transaction.atomic
def events_record_silent(*, now: datetime | None = None) -> int:
    """Announce each tracker that fell silent, once per silence. Returns the events written."""
    with connection.cursor() as cursor:
        cursor.execute(
            _SILENT_SQL,
            {
                "type": Event.Type.SILENT,
                "now": now or timezone.now(),
                "active": Tracker.Lifecycle.ACTIVE,
            },
        )
        return cursor.rowcount


# --- Webhook endpoints -------------------------------------------------------------------


@dataclass(frozen=True)
class CreatedWebhook:
    endpoint: WebhookEndpoint
    secret: str  # the signing secret, shown once


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    event_types = list(dict.fromkeys(event_types))
    unknown = [t for t in event_types if t not in Event.Type.values]
    if unknown:
        raise ValidationError(
            {"event_types": f"Unknown event type(s): {', '.join(map(str, unknown))}."}
        )
    if not event_types:
        raise ValidationError({"event_types": "Choose at least one event type."})
    return event_types


@transaction.atomic
def webhook_create(
    *,
    user,
    client: Client,
    url: str,
    event_types: Iterable[str],
    description: str = "",
    enabled: bool = True,
) -> CreatedWebhook:
    _require_admin(user=user, client=client)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        client=client,
        url=url,
        description=description,
        event_types=_clean_event_types(event_types),
        enabled=enabled,
        secret_encrypted=encryption.encrypt(secret.encode()),
        created_by=user if getattr(user, "pk", None) else None,
    )
    endpoint.full_clean()
    endpoint.save()
    AuditEvent.objects.create(
        actor=endpoint.created_by, action="webhook.create", client=client, target=url
    )
    return CreatedWebhook(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_update(*, user, endpoint: WebhookEndpoint, **fields) -> WebhookEndpoint:
    _require_admin(user=user, client=endpoint.client)
    allowed = {"url", "description", "event_types", "enabled"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"webhook_update does not change {sorted(unknown)}")
    if "event_types" in fields:
        fields["event_types"] = _clean_event_types(fields["event_types"])
    for name, value in fields.items():
        setattr(endpoint, name, value)
    if fields.get("enabled"):
        endpoint.failing_since = None  # switched back on: give it a fresh start
    endpoint.full_clean()
    endpoint.save()
    return endpoint


@transaction.atomic
def webhook_delete(*, user, endpoint: WebhookEndpoint) -> None:
    _require_admin(user=user, client=endpoint.client)
    AuditEvent.objects.create(
        actor=user if getattr(user, "pk", None) else None,
        action="webhook.delete",
        client=endpoint.client,
        target=endpoint.url,
    )
    endpoint.delete()


def webhook_secret(endpoint: WebhookEndpoint) -> bytes:
    return encryption.decrypt(endpoint.secret_encrypted)


# --- Share links ---------------------------------------------------------------------------


def share_link_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedShareLink:
    link: ShareLink
    token: str  # in the URL shown once, never stored


@transaction.atomic
def share_link_create(
    *,
    user,
    client: Client,
    tracker: Tracker | None = None,
    production_run: ProductionRun | None = None,
    expires_at: datetime | None = None,
    until_run_end: bool = False,
    label: str = "",
    now: datetime | None = None,
) -> IssuedShareLink:
    """A link to one tracker or one run of `client`, made by one of its admins. It ends at
    `expires_at`, or with `until_run_end` when the run ends (a tracker's: the run it is in
    now). The token is returned once; only its hash is kept."""
    _require_admin(user=user, client=client)
    now = now or timezone.now()
    if (tracker is None) == (production_run is None):
        raise ValidationError({"target": "Choose one tracker or one production run."})
    if tracker is not None and tracker.client_id != client.pk:
        raise ValidationError({"tracker": f"Tracker {tracker.pk} is not one of {client}'s."})
    if production_run is not None and production_run.brand.client_id != client.pk:
        raise ValidationError(
            {"production_run": f"Production run {production_run.pk} is not one of {client}'s."}
        )
    expiry_run = None
    if until_run_end:
        if expires_at is not None:
            raise ValidationError({"expires_at": "Choose a time or the end of the run, not both."})
        expiry_run = production_run or tracker.production_run
        if expiry_run is None:
            raise ValidationError({"expires_at": "This tracker is in no production run."})
        if expiry_run.ends_at <= now:
            raise ValidationError(
                {"expires_at": f"The run “{expiry_run.name}” has ended already; choose a time."}
            )
    else:
        if expires_at is None:
            raise ValidationError({"expires_at": "Choose when the link ends."})
        if expires_at <= now:
            raise ValidationError({"expires_at": "The end must be in the future."})
        longest = timedelta(days=settings.SHARE_LINK_MAX_DAYS)
        if expires_at > now + longest:
            raise ValidationError(
                {"expires_at": f"A link lasts at most {settings.SHARE_LINK_MAX_DAYS} days."}
            )
    token = secrets.token_urlsafe(32)
    link = ShareLink(
        client=client,
        tracker=tracker,
        production_run=production_run,
        token_hash=share_link_hash(token),
        label=label.strip(),
        expires_at=None if until_run_end else expires_at,
        expiry_run=expiry_run,
        created_by=user if getattr(user, "pk", None) else None,
        created_at=now,
    )
    link.full_clean()
    link.save()
    target = tracker or production_run
    AuditEvent.objects.create(
        actor=link.created_by,
        action="share_link.create",
        client=client,
        target=f"{link} → {'tracker' if tracker else 'run'} {target.pk}"[:200],
        details={
            "link": link.pk,
            "tracker": tracker.pk if tracker else None,
            "production_run": production_run.pk if production_run else None,
            "ends_at": link.ends_at.isoformat(),
            "until_run_end": until_run_end,
        },
    )
    return IssuedShareLink(link=link, token=token)


@transaction.atomic
def share_link_revoke(*, user, link: ShareLink) -> ShareLink:
    _require_admin(user=user, client=link.client)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        AuditEvent.objects.create(
            actor=user if getattr(user, "pk", None) else None,
            action="share_link.revoke",
            client=link.client,
            target=str(link)[:200],
            details={"link": link.pk},
        )
    return link


def share_link_record_view(*, link: ShareLink, at: datetime | None = None) -> None:
    """Count one opening, in one UPDATE (concurrent views each count)."""
    ShareLink.objects.filter(pk=link.pk).update(
        view_count=F("view_count") + 1, last_viewed_at=at or timezone.now()
    )

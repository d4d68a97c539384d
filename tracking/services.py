"""Writes of tracking's data: the tenancy objects (clients, brands, memberships, production
runs), the partner-facing data (API keys, the event outbox, webhook endpoints) and the share
links customers give to people without an account.

Every function is keyword-only and atomic. The delivery of events to webhooks lives in
webhooks.py (it talks HTTP); this module only records.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from . import encryption
from .macs import normalize_mac
from .models import (
    INVITATION_VALID_DAYS,
    ApiKey,
    AuditEvent,
    Brand,
    Client,
    Event,
    Invitation,
    Membership,
    ProductionRun,
    Profile,
    ShareLink,
    Tracker,
    WebhookEndpoint,
)

API_KEY_PREFIX = "tpk_"


def _require_admin(*, user, client: Client) -> None:
    if not Client.objects.administered_by(user).filter(pk=client.pk).exists():
        raise PermissionDenied("Only an admin of this client may do that.")


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


# --- Tenancy: clients, brands, memberships, production runs -------------------------------

UNCHANGED = object()  # a keyword left out: the field keeps its value
# Each is validated in full (model rules and constraints, the refused field named) and audited
# in the same transaction; admin and commands call these, none writes these rows itself.


def _tenancy_actor(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _tenancy_audit(action: str, *, user, client: Client | None, target: str, **details) -> None:
    AuditEvent.objects.create(
        actor=_tenancy_actor(user),
        action=action,
        client=client,
        target=target[:200],
        details=details,
    )


def _tenancy_save(obj, *, action: str, user, client: Client | None, target: str, **details):
    created = obj.pk is None
    obj.full_clean()
    obj.save()
    _tenancy_audit(f"{action}.{'create' if created else 'update'}", user=user, client=client,
           target=target, **details)  # fmt: skip
    return obj


@transaction.atomic
def client_save(*, name: str, client: Client | None = None, user=None) -> Client:
    client = client or Client()
    client.name = name
    return _tenancy_save(client, action="client", user=user, client=None, target=name)


@transaction.atomic
def client_silent_threshold_set(*, user, client: Client, hours) -> Client:
    """Change after how many hours without a report the client's trackers count as silent
    (the dashboard's list, the tracker.silent event). For the client's admins and staff."""
    _require_admin(user=user, client=client)
    client = Client.objects.select_for_update().get(pk=client.pk)
    before = client.silent_after_hours
    try:
        client.silent_after_hours = int(str(hours).strip())
    except ValueError:
        raise ValidationError(
            {"silent_after_hours": f"{hours!r} is not a whole number of hours."}
        ) from None
    client.full_clean(validate_unique=False, validate_constraints=False)
    if client.silent_after_hours != before:
        client.save(update_fields=["silent_after_hours"])
        _tenancy_audit("client.silent_after_hours", user=user, client=client, target=client.name,
               before=before, after=client.silent_after_hours)  # fmt: skip
    return client


@transaction.atomic
def brand_save(
    *,
    client: Client,
    name: str,
    brand: Brand | None = None,
    user=None,
    logo=UNCHANGED,
    accent_colour: str | object = UNCHANGED,
) -> Brand:
    """Create or change a brand. `logo` (an uploaded image, or None/"" to remove it) and
    `accent_colour` (#rrggbb, "" for none) change the brand's look; left out, they stay. A
    replaced logo's file is deleted once the change is committed."""
    brand = brand or Brand()
    before = Brand.objects.filter(pk=brand.pk).values("logo", "accent_colour").first() or {}
    brand.client, brand.name = client, name
    if logo is not UNCHANGED:
        brand.logo = logo or None
    if accent_colour is not UNCHANGED:
        brand.accent_colour = (accent_colour or "").strip().lower()
    look = {"logo": brand.logo.name or "", "accent_colour": brand.accent_colour}
    brand = _tenancy_save(brand, action="brand", user=user, client=client, target=name, **look)
    old_logo = before.get("logo") or ""
    if old_logo and old_logo != brand.logo.name:
        storage = brand.logo.storage
        transaction.on_commit(lambda: storage.delete(old_logo))
    return brand


@transaction.atomic
def brand_delete(*, brand: Brand, user=None) -> None:
    _tenancy_audit("brand.delete", user=user, client=brand.client, target=brand.name)
    brand.delete()


@transaction.atomic
def membership_save(
    *, member, client: Client, role: str, membership: Membership | None = None, user=None
) -> Membership:
    """`member` is the user given access to the client; `user` is who grants it."""
    membership = membership or Membership()
    membership.user, membership.client, membership.role = member, client, role
    return _tenancy_save(membership, action="membership", user=user, client=client,
                 target=member.get_username(), role=role)  # fmt: skip


@transaction.atomic
def membership_delete(*, membership: Membership, user=None) -> None:
    _tenancy_audit("membership.delete", user=user, client=membership.client,
           target=membership.user.get_username())  # fmt: skip
    membership.delete()


@transaction.atomic
def production_run_save(
    *,
    brand: Brand,
    name: str,
    starts_at: datetime,
    ends_at: datetime,
    run: ProductionRun | None = None,
    user=None,
) -> ProductionRun:
    run = run or ProductionRun()
    run.brand, run.name, run.starts_at, run.ends_at = brand, name, starts_at, ends_at
    return _tenancy_save(run, action="production_run", user=user, client=brand.client, target=name,
                 starts_at=starts_at.isoformat(), ends_at=ends_at.isoformat())  # fmt: skip


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


# --- Members and accounts ------------------------------------------------------------------


@transaction.atomic
def profile_timezone_set(*, user, timezone_name: str) -> Profile:
    """The person's own timezone ("" for the site's); the profile is made on first use."""
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    profile.timezone_name = (timezone_name or "").strip()
    profile.full_clean()
    profile.save(update_fields=["timezone_name"])
    return profile


# Members of a client: its admins invite people by e-mail, change roles and remove members.
# A client keeps at least one admin: the last one can be neither demoted nor removed.


def _last_admin_check(*, membership: Membership, becomes: str | None) -> None:
    """Refuse to leave `membership`'s client without an admin (`becomes`: the new role, None
    for removal). The client's admin rows are locked, so two admins demoting each other at
    once cannot both succeed."""
    if membership.role != Membership.Role.ADMIN or becomes == Membership.Role.ADMIN:
        return
    admins = list(
        Membership.objects.select_for_update()
        .filter(client_id=membership.client_id, role=Membership.Role.ADMIN)
        .values_list("pk", flat=True)
    )
    if admins == [membership.pk]:
        name = membership.user.get_username()
        what = "removed" if becomes is None else "made a viewer"
        raise ValidationError(
            {
                "role": f"{name} is the last admin of {membership.client}, so cannot be {what}; "
                "make another member admin first."
            }
        )


@transaction.atomic
def member_role_set(*, user, membership: Membership, role: str) -> Membership:
    """Change a member's role, by an admin of the member's client."""
    _require_admin(user=user, client=membership.client)
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"{role!r} is not a role ({', '.join(Membership.Role)})."})
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "client")
        .get(pk=membership.pk)
    )
    if membership.role == role:
        return membership
    _last_admin_check(membership=membership, becomes=role)
    before = membership.role
    membership.role = role
    return _tenancy_save(membership, action="membership", user=user, client=membership.client,
                         target=membership.user.get_username(), role=role,
                         before=before)  # fmt: skip


@transaction.atomic
def member_remove(*, user, membership: Membership) -> None:
    """Take a member out of the client, by an admin of that client (themselves included,
    unless they are its last admin)."""
    _require_admin(user=user, client=membership.client)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "client")
        .get(pk=membership.pk)
    )
    _last_admin_check(membership=membership, becomes=None)
    membership_delete(membership=membership, user=user)


def invitation_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # in the e-mail's link only, never stored


@transaction.atomic
def invitation_create(
    *, user, client: Client, email: str, role: str, now: datetime | None = None
) -> IssuedInvitation:
    """An invitation to `client` with `role` for the person at `email`, by one of its admins.
    An open invitation to the same address is withdrawn (the newest link is the one that
    works). The token is returned once, for the e-mail; only its hash is kept."""
    _require_admin(user=user, client=client)
    now = now or timezone.now()
    email = BaseUserManager.normalize_email((email or "").strip())
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not an e-mail address."}) from None
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"{role!r} is not a role ({', '.join(Membership.Role)})."})
    if Membership.objects.filter(client=client, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is a member of {client} already."})
    for earlier in (
        Invitation.objects.select_for_update().open(now).filter(client=client, email__iexact=email)
    ):
        earlier.revoked_at = now
        earlier.save(update_fields=["revoked_at"])
        _tenancy_audit("invitation.revoke", user=user, client=client, target=earlier.email,
                       invitation=earlier.pk, replaced=True)  # fmt: skip
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        client=client,
        email=email,
        role=role,
        token_hash=invitation_hash(token),
        invited_by=_tenancy_actor(user),
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_VALID_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    _tenancy_audit("invitation.create", user=user, client=client, target=email,
                   invitation=invitation.pk, role=role,
                   expires_at=invitation.expires_at.isoformat())  # fmt: skip
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_email_send(*, issued: IssuedInvitation, accept_url: str) -> None:
    """The invitation's e-mail, the one place its link is written. Raises what the mail
    backend raises (the caller withdraws the invitation then)."""
    invitation = issued.invitation
    context = {
        "invitation": invitation,
        "client": invitation.client,
        "inviter": invitation.invited_by,
        "accept_url": accept_url,
    }
    message = EmailMultiAlternatives(
        subject=f"You are invited to {invitation.client} on the tracker platform",
        body=render_to_string("email/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("email/invitation.html", context), "text/html")
    message.send()


@transaction.atomic
def invitation_revoke(*, user, invitation: Invitation) -> Invitation:
    _require_admin(user=user, client=invitation.client)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _tenancy_audit("invitation.revoke", user=user, client=invitation.client,
                       target=invitation.email, invitation=invitation.pk)  # fmt: skip
    return invitation


class InvitationClosed(Exception):
    """The invitation was accepted, withdrawn or has expired: its link works no more."""

    def __init__(self, invitation: Invitation, state: str):
        super().__init__(f"Invitation {invitation.pk} is {state.lower()}.")
        self.invitation, self.state = invitation, state


@transaction.atomic
def invitation_accept(
    *,
    invitation: Invitation,
    user=None,
    username: str = "",
    password: str = "",
    now: datetime | None = None,
) -> Membership:
    """Accept an invitation: as `user` (logged in, with the invited address), or as a new
    person with `username` and `password`. Makes the membership with the invited role (a
    person who is a member already keeps their role). Works once: the invitation row is
    locked, and a second acceptance raises InvitationClosed."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update().select_related("client").get(pk=invitation.pk)
    )
    state = invitation.state(now)
    if state != Invitation.State.OPEN:
        raise InvitationClosed(invitation, state)
    User = get_user_model()
    if user is not None:
        if (user.email or "").lower() != invitation.email.lower():
            raise ValidationError(
                f"This invitation is for {invitation.email}; you are logged in as "
                f"{user.get_username()}."
            )
        member = user
    else:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                {"username": f"{invitation.email} has an account already: log in to accept."}
            )
        member = User(username=(username or "").strip(), email=invitation.email)
        member.set_unusable_password()
        member.full_clean()  # the username's rules and uniqueness, named by field
        try:
            password_validation.validate_password(password, member)
        except ValidationError as exc:
            raise ValidationError({"password1": exc.messages}) from None
        member.set_password(password)
        member.save()
    membership = Membership.objects.filter(user=member, client=invitation.client).first()
    if membership is None:
        membership = Membership(user=member, client=invitation.client, role=invitation.role)
        _tenancy_save(membership, action="membership", user=member, client=invitation.client,
                      target=member.get_username(), role=invitation.role,
                      invitation=invitation.pk)  # fmt: skip
    invitation.accepted_at = now
    invitation.accepted_by = member
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    _tenancy_audit("invitation.accept", user=member, client=invitation.client,
                   target=invitation.email, invitation=invitation.pk,
                   role=membership.role)  # fmt: skip
    return membership


# --- Tracker labels ------------------------------------------------------------------------

LABEL_MAX_LENGTH = Tracker._meta.get_field("label").max_length
AUDIT_LABELS_SHOWN = 200
LABEL_LOOKUP_BATCH = 5000


def _clean_label(label: str) -> str:
    """Labels are one line of text: surrounding blanks go, inner line breaks become spaces."""
    return " ".join(str(label).split())


@transaction.atomic
def tracker_label_set(*, user, tracker: Tracker, label: str) -> Tracker:
    """An admin of the tracker's client (or staff) names it; audited with before and after."""
    if tracker.client_id is None:
        raise PermissionDenied("This tracker belongs to no client.")
    _require_admin(user=user, client=tracker.client)
    label = _clean_label(label)
    if len(label) > LABEL_MAX_LENGTH:
        raise ValidationError(
            {"label": f"A label has at most {LABEL_MAX_LENGTH} characters; this has {len(label)}."}
        )
    before = Tracker.objects.select_for_update().values_list("label", flat=True).get(pk=tracker.pk)
    if label != before:
        Tracker.objects.filter(pk=tracker.pk).update(label=label)
        AuditEvent.objects.create(
            actor=_tenancy_actor(user),
            action="tracker.label",
            client_id=tracker.client_id,
            target=tracker.mac_address,
            details={"tracker": tracker.pk, "before": before, "after": label},
        )
    tracker.label = label
    return tracker


@dataclass(frozen=True)
class LabelImport:
    changed: int
    unchanged: int


def _label_rows(data: bytes | str) -> list[tuple[int, list[str]]]:
    """(row number, cells) of a CSV file, blank rows left out; the header is row 1 if it is
    the first line. UTF-8 (a byte order mark is fine) or UTF-16 with its byte order mark;
    comma or semicolon between columns."""
    if isinstance(data, bytes):
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        try:
            text = data.decode("utf-16" if utf16 else "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"The file is not {'UTF-16' if utf16 else 'UTF-8'} text (byte {exc.start + 1}"
                " cannot be decoded); save it as UTF-8 CSV."
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise ValidationError("The file holds NUL bytes: it is not a CSV text file.")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        return [
            (number, cells)
            for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1)
            if any(cell.strip() for cell in cells)
        ]
    except csv.Error as exc:
        raise ValidationError(f"The file is not readable as CSV: {exc}.") from None


def _shown(value: str, limit: int = 40) -> str:
    return f'"{value}"' if len(value) <= limit else f'"{value[:limit]}…"'


@transaction.atomic
def tracker_labels_import(*, user, client: Client, data: bytes | str) -> LabelImport:
    """Labels of `client`'s trackers from a CSV file with a header row naming the columns
    `mac` and `label` (in any order; other columns are ignored), MACs in any spelling.

    Every row is checked before anything is written; a ValidationError names each bad row
    (its number, field and value): a MAC that is not one or that no tracker of the client
    has, a tracker of another of the user's clients, a MAC given twice, a label too long.
    With any bad row nothing is written. One audit row records the import."""
    _require_admin(user=user, client=client)
    rows = _label_rows(data)
    if not rows:
        raise ValidationError(
            "The file is empty: give a header row mac,label and one row per tracker."
        )
    header_number, header = rows[0]
    names = [cell.strip().lower() for cell in header]
    if "mac" not in names or "label" not in names:
        raise ValidationError(
            f"Row {header_number}: the header must name the columns mac and label; "
            f"found {_shown(','.join(header), 80)}."
        )
    mac_at, label_at = names.index("mac"), names.index("label")

    errors: list[tuple[int, str]] = []  # (row number, message)
    wanted: dict[str, tuple[int, str, str]] = {}  # mac -> (row number, as written, label)
    for number, cells in rows[1:]:
        written = cells[mac_at].strip() if mac_at < len(cells) else ""
        label = _clean_label(cells[label_at]) if label_at < len(cells) else ""
        mac = normalize_mac(written)
        if not written:
            errors.append((number, f"Row {number}, mac: empty; every row needs a MAC address."))
            continue
        if mac is None:
            errors.append((number, f"Row {number}, mac: {_shown(written)} is not a MAC address."))
            continue
        if mac in wanted:
            first = wanted[mac][0]
            errors.append((number, f"Row {number}, mac: {_shown(written)} repeats row {first}."))
            continue
        if len(label) > LABEL_MAX_LENGTH:
            message = (
                f"Row {number}, label: {_shown(label)} is {len(label)} characters long;"
                f" a label has at most {LABEL_MAX_LENGTH}."
            )
            errors.append((number, message))
        wanted[mac] = (number, written, label)
    if not wanted and not errors:
        raise ValidationError("The file has a header but no rows.")

    # Trackers the user may see: the client's are changed, another client's are named (the
    # user sees that client anyway); a tracker the user may not see is unknown, like a MAC
    # no tracker has.
    found = {}
    macs = list(wanted)
    for at in range(0, len(macs), LABEL_LOOKUP_BATCH):  # a query has at most 65,535 parameters
        found |= {
            mac: (pk, client_id, client_name, label)
            for pk, mac, client_id, client_name, label in Tracker.objects.visible_to(user)
            .filter(mac_address__in=macs[at : at + LABEL_LOOKUP_BATCH])
            .values_list("pk", "mac_address", "client_id", "client__name", "label")
        }
    for mac, (number, written, _label) in wanted.items():
        if mac not in found:
            errors.append((number, f"Row {number}, mac: {_shown(written)} is unknown:"
                                   f" {client.name} has no tracker with this MAC."))  # fmt: skip
        elif found[mac][1] != client.pk:
            errors.append((number, f"Row {number}, mac: {_shown(written)} is a tracker of"
                                   f" another client ({found[mac][2] or 'none'}),"
                                   f" not of {client.name}."))  # fmt: skip
    if errors:
        raise ValidationError([message for _, message in sorted(errors, key=lambda e: e[0])])

    changes = {
        found[mac][0]: label for mac, (_, _, label) in wanted.items() if found[mac][3] != label
    }
    if changes:
        ids = sorted(changes)
        trackers = []
        for at in range(0, len(ids), LABEL_LOOKUP_BATCH):
            trackers += (
                Tracker.objects.select_for_update()
                .filter(pk__in=ids[at : at + LABEL_LOOKUP_BATCH])
                .only("id", "label")
            )
        for tracker in trackers:
            tracker.label = changes[tracker.pk]
        Tracker.objects.bulk_update(trackers, ["label"], batch_size=1000)
    AuditEvent.objects.create(
        actor=_tenancy_actor(user),
        action="tracker.labels_import",
        client=client,
        target=f"{len(changes)} labels from a CSV file",
        details={
            "rows": len(wanted),
            "changed": len(changes),
            "changes": [  # the first AUDIT_LABELS_SHOWN, as (MAC, before, after)
                [mac, found[mac][3], label]
                for mac, (_, _, label) in wanted.items()
                if found[mac][0] in changes
            ][:AUDIT_LABELS_SHOWN],
        },
    )
    return LabelImport(changed=len(changes), unchanged=len(wanted) - len(changes))

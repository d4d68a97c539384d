"""Writes of the tenancy objects: clients, brands, memberships and production runs, each
audited; and the rule every client-scoped write checks first (`_require_admin`).

Every function is keyword-only and atomic."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from ..models import (
    AuditEvent,
    Brand,
    Client,
    Membership,
    ProductionRun,
)


def _require_admin(*, user, client: Client) -> None:
    if not Client.objects.administered_by(user).filter(pk=client.pk).exists():
        raise PermissionDenied("Only an admin of this client may do that.")


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

"""What the system tells others: the audit trail, API keys, the event outbox, webhooks
and share links."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .catalog import ProductionRun, Tracker
from .tenancy import Client, Membership, TenantQuerySet


class AuditEvent(models.Model):
    """The audit trail: key generation, exports, receipts, allocations, account changes."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=60, db_index=True)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.target}"


class ApiKey(models.Model):
    """A partner system's key for one client. Only a SHA-256 of the secret is stored: the
    secret has 256 random bits, so a fast hash is as safe as a slow one and keeps each
    request cheap. The prefix (shown in lists) finds the row; the hash proves the secret."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    role = models.CharField(
        max_length=10, choices=Membership.Role.choices, default=Membership.Role.VIEWER
    )
    prefix = models.CharField(max_length=12, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["client", "name"],
                condition=Q(revoked_at__isnull=True),
                name="api_key_active_name_uniq",
                violation_error_message="This client already has an active key of that name.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class Event(models.Model):
    """The outbox: one row per thing that happened to a tracker, written in the same
    transaction as the change itself (a rolled-back change leaves no event). Webhook
    deliveries and customer notifications read from here. `id` is what receivers
    deduplicate on.

    A writer either stores the payload, or leaves it NULL and names the row it is built from
    (`source_id`, `place_id`): the payload of such an event is built when it is read, in bulk,
    by the builder its writer registered for the type (tracking.events: read payloads through
    `events.event_payloads`, never `payload` alone)."""

    class Type(models.TextChoices):
        # The status engine: every status change (webhooks) and what it means for customers.
        STATUS_CHANGED = "tracker.status_changed", "Status changed"
        ARRIVED = "tracker.arrived", "Arrived at a place"
        LEFT = "tracker.left", "Left a place"
        DELIVERED = "tracker.delivered", "Delivered"
        MOVED_AFTER_DELIVERY = "tracker.moved_after_delivery", "Moved after delivery"
        # Ingestion and the silent-tracker check.
        FIRST_REPORT = "tracker.first_report", "First report"
        SILENT = "tracker.silent", "Silent"
        BACK = "tracker.back", "Back after silence"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=40, choices=Type.choices)
    # No database constraints on the client and tracker links: the status engine and
    # ingestion write events set-based, from rows that hold both links with constraints, and
    # PostgreSQL would check each event row one at a time (see geofencing's place_link).
    # Deleting a client or tracker through Django still deletes its events (CASCADE). No
    # index on either: no reader looks events up by client or tracker, except the silent
    # check (its own partial index) and those rare deletions.
    client = models.ForeignKey(
        Client, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    tracker = models.ForeignKey(
        Tracker,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
        null=True,
        blank=True,
    )
    # None: built when read, by the builder registered for the type (tracking.events).
    payload = models.JSONField(default=dict, null=True, blank=True)
    # The writer's own row the payload is built from (the status engine: the StatusHistory
    # row), and the place the event is about (geofencing's Place; a plain id, tracking
    # imports no other app). Not indexed: read with the event, never searched.
    source_id = models.BigIntegerField(null=True, blank=True)
    place_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    # When the webhook fan-out turned the event into deliveries (None: not yet). Set in the
    # fan-out's own transaction, so an event committed late is still picked up; a cursor
    # over ids or times would skip it.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The same marker for the customer notification fan-out (alerts, e-mails, digests): it
    # sets notified_at on every event it has looked at, wanted or not, so the partial index
    # below holds only the events still to look at.
    notified_at = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            # For the silent-tracker check and ingestion's back-after-silence only: partial,
            # so the status engine's events cost no entry in it.
            models.Index(
                fields=["tracker", "occurred_at"],
                condition=Q(type="tracker.silent"),
                name="event_silent_tracker_at",
            ),
            # The webhook fan-out's queue.
            models.Index(
                fields=["created_at"],
                condition=Q(dispatched_at__isnull=True),
                name="event_undispatched",
            ),
            # The notification fan-out's queue.
            models.Index(
                fields=["created_at"],
                condition=Q(notified_at__isnull=True),
                name="event_unnotified",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.tracker_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class WebhookEndpoint(models.Model):
    """A client's receiver URL for some event types. The signing secret is encrypted at rest
    (it must be read back to sign) and shown once, when the endpoint is created."""

    encrypted_fields = ("secret_encrypted",)

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    secret_encrypted = models.BinaryField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when a delivery ran out of retries; cleared by the next successful delivery.
    failing_since = models.DateTimeField(null=True, blank=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "created_at"]

    def __str__(self) -> str:
        return self.url


class WebhookDeliveryQuerySet(TenantQuerySet):
    client_path = "endpoint__client"


class WebhookDelivery(models.Model):
    """One event for one endpoint, and how its delivery went. A worker claims a due row by
    moving next_attempt_at past a lease; a worker that dies mid-delivery leaves the row due
    again when the lease runs out, so nothing is lost (receivers deduplicate by event id)."""

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        DELIVERED = "DELIVERED", "Delivered"
        FAILED = "FAILED", "Failed"

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_uniq")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state="PENDING"),
                name="webhook_delivery_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} -> {self.endpoint_id} ({self.state})"


class ShareLinkQuerySet(TenantQuerySet):
    client_path = "client"

    def active(self, at=None) -> ShareLinkQuerySet:
        """Links that open now: not revoked, and before their time or their run's end."""
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expiry_run__isnull=True, expires_at__gt=at) | Q(expiry_run__ends_at__gt=at)
        )


class ShareLink(models.Model):
    """A read-only link to one tracker or one production run for someone without an account
    (a receiver, a carrier). Only a SHA-256 of the token is stored: the token has 256 random
    bits, so a fast hash is as safe as a slow one, and the URL is shown once, when the link is
    made. The page it opens (geofencing/views/shares.py) is scoped by the link alone."""

    class State(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        EXPIRED = "EXPIRED", "Expired"
        REVOKED = "REVOKED", "Revoked"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="share_links")
    # The target: exactly one of the two.
    tracker = models.ForeignKey(
        Tracker, on_delete=models.CASCADE, related_name="share_links", null=True, blank=True
    )
    production_run = models.ForeignKey(
        ProductionRun, on_delete=models.CASCADE, related_name="share_links", null=True, blank=True
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    label = models.CharField(
        max_length=200, blank=True, help_text="For you: who the link is for, e.g. “Receiver Graz”."
    )
    # The end: a chosen time, or the end of a production run (which follows a change of the
    # run's end date). Exactly one of the two.
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_run = models.ForeignKey(
        ProductionRun, on_delete=models.CASCADE, related_name="+", null=True, blank=True
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    objects = ShareLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tracker__isnull=True, production_run__isnull=False)
                | Q(tracker__isnull=False, production_run__isnull=True),
                name="share_link_one_target",
                violation_error_message="A link shows one tracker or one production run.",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True, expiry_run__isnull=False)
                | Q(expires_at__isnull=False, expiry_run__isnull=True),
                name="share_link_one_expiry",
                violation_error_message="A link ends at a chosen time or when its run ends.",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"Link {self.pk}"

    def clean(self) -> None:
        if (self.tracker_id is None) == (self.production_run_id is None):
            raise ValidationError("Choose one tracker or one production run.")
        if (self.expires_at is None) == (self.expiry_run_id is None):
            raise ValidationError({"expires_at": "Choose a time or the end of the run."})
        if self.tracker_id is not None and self.tracker.client_id != self.client_id:
            raise ValidationError({"tracker": "The tracker belongs to another client."})
        for field in ("production_run", "expiry_run"):
            run = getattr(self, field)
            if run is not None and run.brand.client_id != self.client_id:
                raise ValidationError({field: "The production run belongs to another client."})

    @property
    def ends_at(self):
        """When the link stops opening (the run's end follows the run)."""
        return self.expiry_run.ends_at if self.expiry_run_id else self.expires_at

    def state(self, at=None) -> str:
        at = at or timezone.now()
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.ends_at <= at:
            return self.State.EXPIRED
        return self.State.ACTIVE

    def get_state_display(self) -> str:
        return self.State(self.state()).label

    @property
    def target(self):
        return self.tracker if self.tracker_id else self.production_run

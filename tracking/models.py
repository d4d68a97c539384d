"""Tenancy and the core data: clients, brands, production runs, trackers and their reports."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.gis.db import models as gis_models
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now
from django.utils import timezone

from . import brand_look
from .timezones import timezone_names


class TenantQuerySet(models.QuerySet):
    """The one scoping rule: staff see everything, members their clients' rows, others nothing.

    Subclasses name the path from the row to its Client in `client_path`.
    """

    client_path = "client"

    def visible_to(self, user) -> TenantQuerySet:
        return self._of_members(user)

    def administered_by(self, user) -> TenantQuerySet:
        """Rows the user may change: staff, or members with the ADMIN role."""
        return self._of_members(user, role=Membership.Role.ADMIN)

    def _of_members(self, user, *, role: str | None = None) -> TenantQuerySet:
        """All rows for staff; for other active users the rows of the clients they are a
        member of (with `role`, if given); none for anonymous or inactive users."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        api_key = getattr(user, "api_key", None)
        if api_key is not None:  # an API key: one membership of its client, with its role
            if role is not None and api_key.role != role:
                return self.none()
            return self.filter(**{f"{self.client_path}__in": [api_key.client_id]})
        if user.is_staff:
            return self
        # The user's clients as one literal subquery: the same SQL a Membership queryset
        # would compile to, without compiling a nested query into every scoped query.
        sql = f"SELECT client_id FROM {Membership._meta.db_table} WHERE user_id = %s"
        params: tuple = (user.pk,)
        if role is not None:
            sql += " AND role = %s"
            params += (role,)
        return self.filter(**{f"{self.client_path}__in": RawSQL(sql, params)})


class Client(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A tracker of this client that has not reported for this long is announced once as
    # silent (the tracker.silent event) until it reports again.
    silent_after_hours = models.PositiveIntegerField(
        default=24,
        db_default=24,  # set-based writers (bench data, raw inserts) need not name it
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text="Hours without a report after which a tracker counts as silent.",
    )

    class QuerySet(TenantQuerySet):
        client_path = "pk"

    objects = QuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "ADMIN", "Admin"
        VIEWER = "VIEWER", "Viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="membership_user_client_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.client} ({self.role})"


class Brand(models.Model):
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="brands")
    name = models.CharField(max_length=200)
    # The brand's look on the pages about its runs (tracking/brand_look.py).
    logo = models.ImageField(
        upload_to=brand_look.logo_upload_path,
        blank=True,
        max_length=200,
        validators=[brand_look.validate_logo],
        help_text=(
            f"PNG, JPEG, WebP or GIF, at most {brand_look.LOGO_MAX_BYTES // 1024} KiB and"
            f" {brand_look.LOGO_MAX_PIXELS} pixels a side; shown on its runs' pages and shares."
        ),
    )
    accent_colour = models.CharField(
        max_length=7,
        blank=True,
        validators=[brand_look.validate_accent_colour],
        help_text="#rrggbb, e.g. #1565c0: the colour of its runs' pages (empty: the portal's).",
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="brand_client_name_uniq")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def accent_text_colour(self) -> str:
        """Black or white: the readable text colour on the accent (empty without one)."""
        return brand_look.text_colour_on(self.accent_colour) if self.accent_colour else ""


class ProductionRunQuerySet(TenantQuerySet):
    client_path = "brand__client"

    def live(self, at=None) -> ProductionRunQuerySet:
        """Runs between their start and their end (both included) at `at`, default now."""
        at = at or timezone.now()
        return self.filter(starts_at__lte=at, ends_at__gte=at)


class ProductionRun(models.Model):
    class Phase(models.TextChoices):
        UPCOMING = "UPCOMING", "Upcoming"
        LIVE = "LIVE", "Live"
        ENDED = "ENDED", "Ended"

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="production_runs")
    name = models.CharField(max_length=200)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    objects = ProductionRunQuerySet.as_manager()

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")),
                name="production_run_ends_after_start",
                violation_error_message="The end must come after the start.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def client(self) -> Client:
        return self.brand.client

    def clean(self) -> None:
        if self.starts_at and self.ends_at and self.ends_at <= self.starts_at:
            raise ValidationError({"ends_at": "The end must come after the start."})

    def phase(self, at=None) -> str:
        at = at or timezone.now()
        if at < self.starts_at:
            return self.Phase.UPCOMING
        if at > self.ends_at:
            return self.Phase.ENDED
        return self.Phase.LIVE

    def get_phase_display(self) -> str:
        return self.Phase(self.phase()).label


class KeyBatch(models.Model):
    """A batch of key pairs generated together and sent to the manufacturer as one file."""

    class State(models.TextChoices):
        GENERATED = "GENERATED", "Generated"
        EXPORTED = "EXPORTED", "Exported"

    name = models.CharField(max_length=100, unique=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.GENERATED)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "key batches"

    def __str__(self) -> str:
        return self.name


class TrackerQuerySet(TenantQuerySet):
    client_path = "client"

    def fetchable(self, at=None) -> TrackerQuerySet:
        """ACTIVE trackers whose production run is live: the only ones worth asking Apple for.

        The fetch queue (findmy.queue) spells the same rule in its SQL, for its one-statement
        claims; tests/findmy/test_queue.py holds the two together."""
        return self.filter(
            lifecycle_state=Tracker.Lifecycle.ACTIVE,
            production_run__in=ProductionRun.objects.live(at),
        )

    def transition(self, target: str, **changes) -> int:
        """Move these trackers to `target` in one UPDATE, only from its legal source states.

        Returns the number of rows moved; a caller that expected more has met a tracker in
        the wrong state (or a concurrent change) and must roll back.
        """
        sources = Tracker.TRANSITIONS[target]
        return self.filter(lifecycle_state__in=sources).update(lifecycle_state=target, **changes)


class Tracker(models.Model):
    class Lifecycle(models.TextChoices):
        GENERATED = "GENERATED", "Generated"
        EXPORTED = "EXPORTED", "Exported"
        IN_STOCK = "IN_STOCK", "In stock"
        ALLOCATED = "ALLOCATED", "Allocated"
        ACTIVE = "ACTIVE", "Active"
        RETIRED = "RETIRED", "Retired"

    # The only legal lifecycle moves: target state -> the states a tracker may come from.
    # ACTIVE -> ACTIVE is a move to a new production run once the old one has ended;
    # ALLOCATED -> IN_STOCK is a cancelled order. TrackerQuerySet.transition enforces it.
    TRANSITIONS = {
        Lifecycle.EXPORTED: (Lifecycle.GENERATED,),
        Lifecycle.IN_STOCK: (Lifecycle.EXPORTED, Lifecycle.ALLOCATED),
        Lifecycle.ALLOCATED: (Lifecycle.IN_STOCK,),
        Lifecycle.ACTIVE: (Lifecycle.ALLOCATED, Lifecycle.ACTIVE),
        Lifecycle.RETIRED: (
            Lifecycle.GENERATED,
            Lifecycle.EXPORTED,
            Lifecycle.IN_STOCK,
            Lifecycle.ALLOCATED,
            Lifecycle.ACTIVE,
        ),
    }

    class Status(models.TextChoices):
        UNKNOWN = "UNKNOWN", "Unknown"
        IN_TRANSIT = "IN_TRANSIT", "In transit"
        IN_STORAGE = "IN_STORAGE", "In storage"
        DELIVERED = "DELIVERED", "Delivered"

    # Fields holding Fernet tokens; `manage.py rotate_encryption_key` re-encrypts them.
    encrypted_fields = ("private_key_encrypted",)

    mac_address = models.CharField(max_length=17, unique=True)
    advertisement_key = models.BinaryField(max_length=28, unique=True)
    hashed_advertisement_key = models.CharField(max_length=44, unique=True)
    # Fernet token of the 28-byte private key; see tracking.encryption.
    private_key_encrypted = models.BinaryField(editable=False)
    key_batch = models.ForeignKey(
        KeyBatch, on_delete=models.PROTECT, related_name="trackers", null=True, blank=True
    )
    lifecycle_state = models.CharField(
        max_length=12, choices=Lifecycle.choices, default=Lifecycle.GENERATED, db_index=True
    )
    client = models.ForeignKey(
        Client, on_delete=models.PROTECT, related_name="trackers", null=True, blank=True
    )
    production_run = models.ForeignKey(
        ProductionRun, on_delete=models.PROTECT, related_name="trackers", null=True, blank=True
    )
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When the tracker became ACTIVE in its current production run (fleet's import sets it).
    # Reports observed before it belong to an earlier life (the warehouse, an earlier run):
    # they are never fetched for this run and never shown to the customer
    # (tracking.selectors.customer_reports); NULL for a tracker never imported into a run.
    activated_at = models.DateTimeField(null=True, blank=True)

    # Latest position, from the newest observed_at (not the newest arrival).
    last_report_at = models.DateTimeField(null=True, blank=True)
    # No spatial index: nothing looks trackers up by area, and without an index on the
    # position columns PostgreSQL updates the row in place (HOT) on every new report.
    last_point = gis_models.PointField(
        geography=True, srid=4326, null=True, blank=True, spatial_index=False
    )
    last_accuracy_m = models.FloatField(null=True, blank=True)
    nearest_city = models.CharField(max_length=200, blank=True)
    nearest_country_code = models.CharField(max_length=2, blank=True)

    # Delivery status, kept by the status engine (geofencing).
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNKNOWN)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # The status engine has seen every LocationReport with id <= this watermark.
    status_watermark = models.BigIntegerField(default=0)
    # Set by the database on every UPDATE of the row (trigger tracking_tracker_touch), so the
    # set-based writers (ingestion, status engine) move it without naming it; partners sync
    # with ?updated_since=.
    updated_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    objects = TrackerQuerySet.as_manager()

    class Meta:
        ordering = ["mac_address"]
        indexes = [models.Index(fields=["production_run", "lifecycle_state"])]
        # Staff who may change a tracker's label may not, by that alone, run its lifecycle.
        permissions = [("operate_tracker", "Can retire, fetch now and re-evaluate trackers")]

    def __str__(self) -> str:
        return self.mac_address


class LocationReportQuerySet(TenantQuerySet):
    client_path = "tracker__client"


class LocationReport(models.Model):
    """One decrypted report from the FindMy network. The big table: write it set-based."""

    # Indexed by (tracker, -observed_at) below, which also serves lookups by tracker alone.
    tracker = models.ForeignKey(
        Tracker, on_delete=models.CASCADE, related_name="reports", db_index=False
    )
    observed_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    # No spatial index: reports are matched to places through the places' index, and every
    # index on this table is paid for on each of millions of inserts.
    point = gis_models.PointField(geography=True, srid=4326, spatial_index=False)
    horizontal_accuracy = models.PositiveSmallIntegerField()
    confidence = models.PositiveSmallIntegerField()
    status_byte = models.PositiveSmallIntegerField()
    payload_hash = models.BinaryField(max_length=32, unique=True)

    objects = LocationReportQuerySet.as_manager()

    class Meta:
        ordering = ["-observed_at"]
        indexes = [
            # "newest per tracker" and "one tracker in a time range"
            models.Index(fields=["tracker", "-observed_at"], name="report_tracker_observed"),
        ]

    def __str__(self) -> str:
        return f"{self.tracker_id} @ {self.observed_at:%Y-%m-%d %H:%M}"


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


class RollupQuerySet(TenantQuerySet):
    client_path = "tracker__client"


class LocationRollup(models.Model):
    """Reports summarised per tracker and bucket; history views read these for long ranges."""

    # No index of its own: the unique (tracker, bucket) constraint's index leads with tracker.
    # No database constraint either: roll-ups are derived data, written only by the roll-up
    # service from reports (whose own foreign key guarantees the tracker), rebuildable with
    # `rollup_locations --rebuild`, and a per-row check cost a third of every roll-up run.
    # Deleting a tracker through Django still deletes its roll-ups (on_delete=CASCADE).
    tracker = models.ForeignKey(
        Tracker, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    bucket = models.DateTimeField()  # start of the hour / day, UTC
    report_count = models.PositiveIntegerField()
    first_observed_at = models.DateTimeField()
    last_observed_at = models.DateTimeField()
    # No spatial index: history reads roll-ups by tracker and time, never by location, and
    # a GiST index would cost more than the rows to write on every roll-up.
    centroid = gis_models.PointField(geography=True, srid=4326, spatial_index=False)
    best_accuracy_m = models.PositiveSmallIntegerField()

    objects = RollupQuerySet.as_manager()

    class Meta:
        abstract = True
        ordering = ["tracker", "bucket"]

    def __str__(self) -> str:
        return f"{self.tracker_id} @ {self.bucket:%Y-%m-%d %H:00}: {self.report_count}"


class HourlyRollup(LocationRollup):
    class Meta(LocationRollup.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tracker", "bucket"], name="hourly_rollup_uniq")
        ]


class DailyRollup(LocationRollup):
    class Meta(LocationRollup.Meta):
        constraints = [
            models.UniqueConstraint(fields=["tracker", "bucket"], name="daily_rollup_uniq")
        ]


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


# --- Customer alerts ---------------------------------------------------------------------
# The outbox's events become per-person notifications (tracking/alerts.py): a client's admins
# choose which event types are on and for which runs (AlertRule), each member which runs they
# follow and how they hear of them (AlertSubscription). One Notification per (event, person);
# e-mails carry one or many of them (AlertEmail).


class AlertRule(models.Model):
    """A client's alerts: the event types that are on, for every run or for chosen runs.
    A client without a rule has every alert off."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="alert_rule")
    event_types = models.JSONField(default=list, blank=True)
    all_runs = models.BooleanField(default=True)
    production_runs = models.ManyToManyField(ProductionRun, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"alerts of {self.client}"


class AlertSubscription(models.Model):
    """What one member follows of one client, and how: each alert at once, a daily digest at
    a local hour of their timezone, or nothing. A member without one gets nothing."""

    class Delivery(models.TextChoices):
        IMMEDIATE = "IMMEDIATE", "Immediately"
        DIGEST = "DIGEST", "Daily digest"
        OFF = "OFF", "Not at all"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    digest_hour = models.PositiveSmallIntegerField(
        default=8,
        validators=[MaxValueValidator(23)],
        help_text="The hour of the day (your timezone) the digest is sent.",
    )
    all_runs = models.BooleanField(default=True)
    production_runs = models.ManyToManyField(ProductionRun, blank=True, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="alert_subscription_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.client} ({self.delivery})"


class AlertEmail(models.Model):
    """One e-mail of alerts to one person: the notifications that point at it. Its id makes
    the Message-ID. CLAIMED is composed but not handed to the mail server; SENDING was
    committed just before the hand-over; a SENDING row whose lease ran out may have gone out
    and is never sent again (UNCERTAIN); a CLAIMED one is released to be sent afresh."""

    class Kind(models.TextChoices):
        IMMEDIATE = "IMMEDIATE", "Immediate"
        DIGEST = "DIGEST", "Digest"

    class State(models.TextChoices):
        CLAIMED = "CLAIMED", "Claimed"
        SENDING = "SENDING", "Sending"
        SENT = "SENT", "Sent"
        UNCERTAIN = "UNCERTAIN", "Maybe sent (worker lost)"
        RELEASED = "RELEASED", "Released (never sent)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLAIMED)
    to_address = models.EmailField()
    lease_until = models.DateTimeField()
    notification_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["lease_until"],
                condition=Q(state__in=["CLAIMED", "SENDING"]),
                name="alert_email_leased",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address} ({self.state})"


class NotificationQuerySet(models.QuerySet):
    def listed(self) -> NotificationQuerySet:
        """What the person sees: everything but the alerts a flap debounced."""
        return self.exclude(state=Notification.State.DEBOUNCED)

    def unread(self) -> NotificationQuerySet:
        return self.listed().filter(read_at__isnull=True)


class Notification(models.Model):
    """One alert for one person: from an outbox event (unique per event and person, so a
    fan-out that runs twice adds nothing) or from the operations checks for staff (unique per
    person and `dedupe_key`). Shown in the portal's list; e-mailed at once or in a digest."""

    class State(models.TextChoices):
        PENDING = "PENDING", "Waiting for its e-mail"
        EMAILED = "EMAILED", "In an e-mail"
        DEBOUNCED = "DEBOUNCED", "Debounced (same alert shortly before)"
        NO_ADDRESS = "NO_ADDRESS", "Not e-mailed (no address)"

    # No database constraints on any link: the fan-out writes notifications set-based from
    # rows it has just read with their own constraints (events, subscriptions, users), and
    # PostgreSQL would check each notification's links one row at a time (a third of the
    # fan-out). Deleting a person, event, client or tracker through Django still deletes their
    # notifications (CASCADE).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    kind = models.CharField(max_length=40)  # the event type, or an operations check's name
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    tracker = models.ForeignKey(
        Tracker, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    delivery = models.CharField(
        max_length=10,
        choices=AlertSubscription.Delivery.choices,
        default=AlertSubscription.Delivery.IMMEDIATE,
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    email = models.ForeignKey(
        AlertEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications",
        db_index=False,
    )  # fmt: skip
    # Operations alerts only (no event): what to say and where it points.
    dedupe_key = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=300, blank=True)
    link = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="notification_event_user_uniq"),
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notification_user_dedupe_uniq",
            ),
        ]
        indexes = [
            # The portal's list, newest first; the header's unread count (the newest, see
            # alerts.unread_count); the flap debounce's look back (a person's last minutes).
            # Each index costs every notification of a storm: there is no other.
            models.Index(fields=["user", "-occurred_at"], name="notification_user_list"),
            # The e-mail senders' queue.
            models.Index(
                fields=["user"], condition=Q(state="PENDING"), name="notification_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"


# --- Members and accounts ------------------------------------------------------------------


class Profile(models.Model):
    """What a person sets for themselves. Made when they first save their profile; a person
    without one sees times in the site's timezone (TIME_ZONE)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # An IANA name (zoneinfo.available_timezones); blank: the site's timezone. Read by the
    # portal (tracking.timezones.TimezoneMiddleware) and the alert e-mails.
    timezone_name = models.CharField("timezone", max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.timezone_name or 'site timezone'})"

    def clean(self) -> None:
        if self.timezone_name and self.timezone_name not in timezone_names():
            raise ValidationError(
                {
                    "timezone_name": f"“{self.timezone_name}” is not a timezone name; "
                    "choose one like Europe/Vienna or America/Los_Angeles."
                }
            )


INVITATION_VALID_DAYS = 7


def _invitation_expiry():
    return timezone.now() + timedelta(days=INVITATION_VALID_DAYS)


class InvitationQuerySet(TenantQuerySet):
    client_path = "client"

    def open(self, at=None) -> InvitationQuerySet:
        """Invitations that can still be accepted: not accepted, not withdrawn, not expired."""
        at = at or timezone.now()
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=at)


class Invitation(models.Model):
    """A client admin's invitation of a person, by e-mail address, with a role. The e-mail
    carries a link with a token (256 random bits) of which only the SHA-256 is kept, as for
    share links; the link works once, until `expires_at`. Accepting it makes the membership."""

    class State(models.TextChoices):
        OPEN = "OPEN", "Open"
        ACCEPTED = "ACCEPTED", "Accepted"
        EXPIRED = "EXPIRED", "Expired"
        REVOKED = "REVOKED", "Withdrawn"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} → {self.client} ({self.role})"

    def state(self, at=None) -> str:
        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at <= (at or timezone.now()):
            return self.State.EXPIRED
        return self.State.OPEN

    def get_state_display(self) -> str:
        return self.State(self.state()).label

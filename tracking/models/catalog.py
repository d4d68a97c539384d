"""What a client buys: brands, production runs, key batches and trackers."""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models as gis_models
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils import timezone

from .. import brand_look
from .tenancy import Client, TenantQuerySet


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

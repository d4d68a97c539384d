"""Where trackers were: decrypted location reports and their hourly and daily roll-ups."""

from __future__ import annotations

from django.contrib.gis.db import models as gis_models
from django.db import models
from django.utils import timezone

from .catalog import Tracker
from .tenancy import TenantQuerySet


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

"""Query-string filters of the partner API (django-filter). Every value is validated: a
filter that cannot be applied is a 400 naming its parameter, never silently dropped.

Choices of related objects (runs, brands) come from the caller's own clients, so another
client's id is refused exactly like a missing one."""

from __future__ import annotations

from datetime import UTC

import django_filters as filters
from django import forms
from django.contrib.gis.geos import Polygon
from django_filters.fields import IsoDateTimeField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from .macs import normalize_mac
from .models import Brand, ProductionRun, Tracker


def normalise_mac(raw: str) -> str:
    """'e2c2cc6d1f12', 'E2-C2-CC-6D-1F-12', 'e2c2.cc6d.1f12' -> 'E2:C2:CC:6D:1F:12'."""
    mac = normalize_mac(raw)
    if mac is None:
        raise forms.ValidationError(f"{raw!r} is not a MAC address (12 hex digits).")
    return mac


class MacField(forms.CharField):
    def clean(self, value):
        value = super().clean(value)
        return normalise_mac(value) if value else value


class BBoxField(forms.CharField):
    """min_longitude,min_latitude,max_longitude,max_latitude."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return None
        parts = value.split(",")
        try:
            west, south, east, north = (float(p) for p in parts)
        except ValueError:
            raise forms.ValidationError(
                "Give four numbers: min_longitude,min_latitude,max_longitude,max_latitude."
            ) from None
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise forms.ValidationError(
                "Longitudes must be within -180..180 and latitudes within -90..90, "
                "each minimum below its maximum."
            )
        return Polygon.from_bbox((west, south, east, north))


class UtcDateTimeField(IsoDateTimeField):
    """ISO 8601 with an offset, stored as UTC: PostgreSQL refuses offsets past 15:59 that
    Python accepts, and a date near year 1 may not survive the conversion."""

    def clean(self, value):
        value = super().clean(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("The date is out of range.") from None


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


@extend_schema_field(OpenApiTypes.STR)
class MacFilter(filters.CharFilter):
    field_class = MacField


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?$",
        "example": "16.2,48.1,16.5,48.3",
    }
)
class BBoxFilter(filters.CharFilter):
    field_class = BBoxField

    def filter(self, qs, value):
        if value is None:
            return qs
        value.srid = 4326
        return qs.filter(last_point__intersects=value)


def _runs(request):
    return ProductionRun.objects.visible_to(getattr(request, "user", None))


def _brands(request):
    return Brand.objects.visible_to(getattr(request, "user", None))


class TrackerFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=Tracker.Status.choices, help_text="One or more statuses (repeat the parameter)."
    )
    production_run = filters.ModelChoiceFilter(queryset=_runs, help_text="A production run id.")
    brand = filters.ModelChoiceFilter(
        queryset=_brands, field_name="production_run__brand", help_text="A brand id."
    )
    mac_address = MacFilter(
        help_text="A MAC address in any usual spelling (colons, dashes, dots or none; any case)."
    )
    last_seen_after = UtcDateTimeFilter(
        field_name="last_report_at", lookup_expr="gte", help_text="Last report at or after."
    )
    last_seen_before = UtcDateTimeFilter(
        field_name="last_report_at", lookup_expr="lt", help_text="Last report before."
    )
    updated_since = UtcDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        help_text=(
            "Trackers changed at or after this time. For incremental syncs, overlap the"
            " previous sync by a few minutes: a change is stamped when written, seen at commit."
        ),
    )
    bbox = BBoxFilter(
        help_text="Last position within min_longitude,min_latitude,max_longitude,max_latitude."
    )
    ordering = filters.OrderingFilter(
        fields=(
            ("mac_address", "mac_address"),
            ("last_report_at", "last_report_at"),
            ("status_changed_at", "status_changed_at"),
            ("updated_at", "updated_at"),
            ("id", "id"),
        ),
        help_text="Sort by a field; prefix with - for descending.",
    )

    class Meta:
        model = Tracker
        fields = []

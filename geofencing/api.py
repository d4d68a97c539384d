"""Partner API of geofencing: places (read for members, write for client admins, through
the same services as admin) and a tracker's status history."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers

from tracking import selectors as tracking_selectors
from tracking.api.base import ClientOwnedSerializer, ScopedModelViewSet, ScopedViewSet
from tracking.api.geojson import PointSerializer, constant
from tracking.models import ProductionRun

from . import selectors, services
from .models import Place, StatusHistory


class PointInputSerializer(PointSerializer):
    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        return Point(values["x"], values["y"], srid=4326)


class PolygonSerializer(serializers.Serializer):
    """A GeoJSON Polygon: one outer ring of [longitude, latitude] pairs, closed (the last
    pair repeats the first), at least four pairs, not crossing itself."""

    type = constant("Polygon")
    coordinates = serializers.ListField(
        child=serializers.ListField(
            child=serializers.ListField(child=serializers.FloatField(), min_length=2, max_length=2),
            min_length=4,
            max_length=500,
        ),
        min_length=1,
        max_length=1,
    )

    def to_representation(self, polygon):
        return {"type": "Polygon", "coordinates": [[list(xy) for xy in polygon.coords[0]]]}

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        try:
            return services.polygon_from_ring(values["coordinates"][0])
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"coordinates": exc.message_dict["polygon"]}) from exc


class PlaceSerializer(ClientOwnedSerializer):
    point = PointInputSerializer(
        required=False,
        help_text="The centre; left out, it is the polygon's centroid or the geocoded address.",
    )
    polygon = PolygonSerializer(required=False, allow_null=True)
    production_runs = serializers.PrimaryKeyRelatedField(
        queryset=ProductionRun.objects.none(), many=True, required=False
    )

    class Meta:
        model = Place
        fields = [
            "id",
            "client",
            "kind",
            "name",
            "address",
            "point",
            "radius_m",
            "polygon",
            "production_runs",
            "created_at",
        ]
        read_only_fields = ["created_at"]
        # Uniqueness is checked by the service (full_clean), with the same message.
        validators = []

    def get_fields(self):
        fields = super().get_fields()
        user = getattr(self.context.get("request"), "user", None)
        # Choices from the caller's own clients: another client's id is "does not exist".
        fields["production_runs"].child_relation.queryset = ProductionRun.objects.visible_to(
            user
        ).select_related("brand")
        return fields

    def create(self, validated):
        return services.place_create(**validated)

    def update(self, place, validated):
        runs = validated.pop("production_runs", None)
        with transaction.atomic():
            place = services.place_update(place=place, **validated)
            if runs is not None:
                services.place_set_production_runs(place=place, production_runs=runs)
        return place


@extend_schema_view(
    destroy=extend_schema(description="Delete the place; history keeps the change, not the place.")
)
class PlaceViewSet(ScopedModelViewSet):
    """Delivery and storage places. Members read; client admins create, change, delete."""

    serializer_class = PlaceSerializer

    def get_base_queryset(self):
        return (
            Place.objects.select_related("client")
            .prefetch_related("production_runs")
            .order_by("name", "id")
        )

    def perform_destroy(self, place):
        services.place_delete(place=place)


class StatusChangeSerializer(serializers.ModelSerializer):
    place = serializers.IntegerField(source="place_id", allow_null=True)
    place_name = serializers.CharField(source="place.name", allow_null=True, default=None)
    from_place_name = serializers.CharField(allow_null=True)
    left_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next change ended this status (null: current)."
    )

    class Meta:
        model = StatusHistory
        fields = [
            "id",
            "from_status",
            "to_status",
            "at",
            "left_at",
            "place",
            "place_name",
            "from_place_name",
            "report_id",
            "recorded_at",
        ]


@extend_schema_view(list=extend_schema(description="The tracker's status changes, oldest first."))
class StatusHistoryViewSet(ScopedViewSet):
    """Routed as trackers/{tracker_pk}/status-history/ (list only)."""

    serializer_class = StatusChangeSerializer
    queryset = StatusHistory.objects.none()  # the model, for the schema

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        tracker = tracking_selectors.tracker_get(
            user=self.request.user, pk=self.kwargs["tracker_pk"]
        )
        return selectors.status_history_list(user=self.request.user, tracker=tracker)

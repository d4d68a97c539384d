"""Partner API of tracking: who am I, clients, brands, production runs, trackers and their
locations. Reads go through selectors; scoping through the base classes in base.py."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import selectors
from ..filters import TrackerFilter
from ..models import Brand, Client, Membership, ProductionRun, Tracker
from .base import FORMAT_PARAMETER, GeoJSONRenderer, ScopedViewSet
from .errors import QueryParameterError
from .geojson import (
    PositionField,
    feature_collection,
    feature_collection_serializer,
    feature_serializer,
)
from .pagination import TimeCursorPagination

# --- me ----------------------------------------------------------------------------------


class ClientRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MembershipSerializer(serializers.Serializer):
    client = ClientRefSerializer()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class ApiKeyRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    client = ClientRefSerializer()


class MeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["user", "api_key"])
    username = serializers.CharField()
    email = serializers.EmailField(allow_null=True, allow_blank=True)
    is_staff = serializers.BooleanField()
    memberships = MembershipSerializer(many=True)
    api_key = ApiKeyRefSerializer(allow_null=True)


class MeView(APIView):
    """The caller: a person (their clients and roles) or an API key (its client and role)."""

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request):
        user = request.user
        api_key = getattr(user, "api_key", None)
        if api_key is not None:
            body = {
                "kind": "api_key",
                "username": user.username,
                "email": None,
                "is_staff": False,
                "memberships": [{"client": api_key.client, "role": api_key.role}],
                "api_key": api_key,
            }
        else:
            body = {
                "kind": "user",
                "username": user.get_username(),
                "email": user.email or None,
                "is_staff": user.is_staff,
                "memberships": selectors.membership_list(user=user),
                "api_key": None,
            }
        return Response(MeSerializer(body).data)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.query_params:
            raise QueryParameterError({n: ["Unknown parameter."] for n in request.query_params})


# --- clients, brands, production runs ---------------------------------------------------


class ClientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Client
        fields = ["id", "name", "silent_after_hours", "created_at"]


class ClientViewSet(ScopedViewSet):
    serializer_class = ClientSerializer

    def get_base_queryset(self):
        return Client.objects.order_by("name", "id")


class BrandSerializer(serializers.ModelSerializer):
    class Meta:
        model = Brand
        fields = ["id", "name", "client"]


class BrandViewSet(ScopedViewSet):
    serializer_class = BrandSerializer

    def get_base_queryset(self):
        return Brand.objects.order_by("client__name", "name", "id")


class ProductionRunSerializer(serializers.ModelSerializer):
    client = serializers.IntegerField(source="brand.client_id", read_only=True)
    client_name = serializers.CharField(source="brand.client.name", read_only=True)
    brand_name = serializers.CharField(source="brand.name", read_only=True)
    phase = serializers.SerializerMethodField()

    class Meta:
        model = ProductionRun
        fields = [
            "id",
            "name",
            "client",
            "client_name",
            "brand",
            "brand_name",
            "starts_at",
            "ends_at",
            "phase",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=ProductionRun.Phase.choices))
    def get_phase(self, run: ProductionRun) -> str:
        return run.phase()


class ProductionRunViewSet(ScopedViewSet):
    serializer_class = ProductionRunSerializer

    def get_base_queryset(self):
        return ProductionRun.objects.select_related("brand__client").order_by("-starts_at", "id")


# --- trackers ----------------------------------------------------------------------------


class TrackerSerializer(serializers.ModelSerializer):
    """A tracker: never any key material, only the identifiers a customer matches labels by."""

    position = PositionField()

    class Meta:
        model = Tracker
        fields = [
            "id",
            "mac_address",
            "label",
            "production_run",
            "status",
            "status_changed_at",
            "last_report_at",
            "position",
            "last_accuracy_m",
            "nearest_city",
            "nearest_country_code",
            "updated_at",
        ]


# What the API reads of a tracker: never the key material, and no wasted bytes per row (the
# position comes as two numbers, see selectors.coordinates); the activation bounds the
# locations a caller may read (selectors.customer_reports).
TRACKER_API_FIELDS = [
    *(name for name in TrackerSerializer.Meta.fields if name != "position"),
    "activated_at",
]

TrackerFeatureSerializer = feature_serializer("TrackerFeature", TrackerSerializer, "position")
TrackerCollectionSerializer = feature_collection_serializer(
    "TrackerFeatureCollection", TrackerFeatureSerializer, paged="offset"
)


class LocationSerializer(serializers.Serializer):
    """A raw report (reports = 1), or an hourly or daily roll-up of `reports` reports seen
    from `at` to `until`, at their centroid, with the best accuracy among them."""

    at = serializers.DateTimeField()
    until = serializers.DateTimeField()
    position = PositionField()
    accuracy_m = serializers.IntegerField()
    reports = serializers.IntegerField()


LocationFeatureSerializer = feature_serializer("LocationFeature", LocationSerializer, "position")
LocationCollectionSerializer = feature_collection_serializer(
    "LocationFeatureCollection", LocationFeatureSerializer, paged="cursor"
)

LOCATION_PARAMETERS = [
    OpenApiParameter(
        "since",
        OpenApiTypes.DATETIME,
        description="Start of the range (ISO 8601 with offset). Default: 24 hours before `until`.",
    ),
    OpenApiParameter("until", OpenApiTypes.DATETIME, description="End of the range. Default: now."),
    OpenApiParameter(
        "resolution",
        OpenApiTypes.STR,
        enum=list(selectors.LOCATION_RESOLUTIONS),
        description="`raw` reports (default), or `hourly` / `daily` roll-ups.",
    ),
    FORMAT_PARAMETER,
]


class UtcDateTimeField(serializers.DateTimeField):
    def enforce_timezone(self, value):
        try:
            return super().enforce_timezone(value)
        except OverflowError:
            self.fail("invalid", format="ISO 8601 within years 1 to 9999")


class LocationQuerySerializer(serializers.Serializer):
    since = UtcDateTimeField(required=False)
    until = UtcDateTimeField(required=False)
    resolution = serializers.ChoiceField(
        choices=selectors.LOCATION_RESOLUTIONS, default="raw", required=False
    )

    def validate(self, attrs):
        attrs.setdefault("until", timezone.now())
        attrs.setdefault("since", attrs["until"] - timedelta(hours=24))
        if attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": "Must not be after `until`."})
        return attrs


def _geojson(request) -> bool:
    return getattr(request.accepted_renderer, "format", "json") == "geojson"


class TrackerViewSet(ScopedViewSet):
    """Trackers of the caller's clients, filtered and ordered; JSON or GeoJSON."""

    serializer_class = TrackerSerializer
    renderer_classes = [JSONRenderer, GeoJSONRenderer]
    filterset_class = TrackerFilter

    def get_base_queryset(self):
        return (
            Tracker.objects.only(*TRACKER_API_FIELDS)
            .annotate(**selectors.coordinates("last_point"))
            .order_by("mac_address")
        )

    def get_serializer_class(self):
        if self.action in ("list", "retrieve") and _geojson(self.request):
            return TrackerFeatureSerializer
        return TrackerSerializer

    def get_paginated_response(self, data):
        if _geojson(self.request):
            return Response(feature_collection(data, self.paginator, offset=True))
        return super().get_paginated_response(data)

    @extend_schema(
        parameters=[FORMAT_PARAMETER],
        responses={
            (200, "application/json"): TrackerSerializer(many=True),
            (200, "application/geo+json"): OpenApiResponse(TrackerCollectionSerializer),
        },
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        parameters=[FORMAT_PARAMETER],
        responses={
            (200, "application/json"): TrackerSerializer,
            (200, "application/geo+json"): TrackerFeatureSerializer,
        },
    )
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        operation_id="trackers_locations_list",
        parameters=LOCATION_PARAMETERS,
        responses={
            (200, "application/json"): LocationSerializer(many=True),
            (200, "application/geo+json"): OpenApiResponse(LocationCollectionSerializer),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=TimeCursorPagination)
    def locations(self, request, pk=None):
        """The tracker's positions in a time range, oldest first, in cursor pages."""
        tracker = self.get_object()
        query = LocationQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise QueryParameterError(query.errors)
        resolution = query.validated_data["resolution"]
        rows = selectors.location_list(
            user=request.user,
            tracker=tracker,
            start=query.validated_data["since"],
            end=query.validated_data["until"],
            resolution=resolution,
        )
        paginator = self.paginator
        paginator.ordering = ("observed_at", "id") if resolution == "raw" else ("bucket", "id")
        page = paginator.paginate_queryset(rows, request, view=self)
        if _geojson(request):
            features = LocationFeatureSerializer(page, many=True).data
            return Response(feature_collection(features, paginator, offset=False))
        return paginator.get_paginated_response(LocationSerializer(page, many=True).data)

    @property
    def extra_query_params(self):
        if self.action == "locations":
            return ("since", "until", "resolution", "cursor", "limit")
        return ()

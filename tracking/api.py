"""Partner API for tenancy and trackers. Scoping lives in one base class: ScopedViewSet."""

from rest_framework import serializers, viewsets
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from .models import ProductionRun, Tracker


class ScopedViewSet(viewsets.ReadOnlyModelViewSet):
    """Every API queryset goes through visible_to(user): another client's object is a 404."""

    queryset = None

    def get_queryset(self):
        return self.queryset.visible_to(self.request.user)


class ProductionRunSerializer(serializers.ModelSerializer):
    client = serializers.CharField(source="brand.client.name", read_only=True)
    brand = serializers.CharField(source="brand.name", read_only=True)
    phase = serializers.SerializerMethodField()

    class Meta:
        model = ProductionRun
        fields = ["id", "name", "client", "brand", "starts_at", "ends_at", "phase"]

    def get_phase(self, run: ProductionRun) -> str:
        return run.phase()


class TrackerSerializer(GeoFeatureModelSerializer):
    """A tracker as a GeoJSON feature at its last position. Never any key material but the
    public identifiers a customer needs to match labels."""

    class Meta:
        model = Tracker
        geo_field = "last_point"
        fields = [
            "id",
            "mac_address",
            "label",
            "production_run",
            "status",
            "status_changed_at",
            "last_report_at",
            "last_accuracy_m",
            "nearest_city",
            "nearest_country_code",
        ]


class ProductionRunViewSet(ScopedViewSet):
    queryset = ProductionRun.objects.select_related("brand__client").order_by("-starts_at")
    serializer_class = ProductionRunSerializer


class TrackerViewSet(ScopedViewSet):
    queryset = Tracker.objects.order_by("mac_address")
    serializer_class = TrackerSerializer

    def get_queryset(self):
        trackers = super().get_queryset()
        run = self.request.query_params.get("production_run")
        if run is not None and run.isdigit():
            trackers = trackers.filter(production_run_id=int(run))
        return trackers

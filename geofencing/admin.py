from django import forms
from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from tracking.admin import ReadOnlyAdminMixin

from . import services
from .models import City, GeocodeCache, Place, StatusHistory


class PlaceAdminForm(forms.ModelForm):
    """Staff draw the point (or a polygon), or type an address that is geocoded."""

    class Meta:
        model = Place
        fields = ["client", "kind", "name", "address", "point", "radius_m", "polygon",
                  "production_runs"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["point"].required = False

    def clean(self):
        cleaned = super().clean()
        client = cleaned.get("client")
        if client is not None:
            services.check_runs_belong_to(client, cleaned.get("production_runs") or [])
        if not cleaned.get("point") and not cleaned.get("polygon"):
            cleaned["point"] = services.point_for(point=None, address=cleaned.get("address", ""))
            self.instance.point = cleaned["point"]
        elif not cleaned.get("point"):
            cleaned["point"] = services.point_of_polygon(cleaned["polygon"])
            self.instance.point = cleaned["point"]
        return cleaned


@admin.register(Place)
class PlaceAdmin(LeafletGeoAdmin):
    form = PlaceAdminForm
    list_display = ["name", "kind", "client", "radius_m", "address"]
    list_filter = ["kind", "client"]
    search_fields = ["name", "address", "client__name"]
    filter_horizontal = ["production_runs"]
    list_select_related = ["client"]


@admin.register(StatusHistory)
class StatusHistoryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["tracker", "from_status", "to_status", "at", "place", "report_id"]
    list_filter = ["to_status"]
    search_fields = ["tracker__mac_address"]
    date_hierarchy = "at"
    list_select_related = ["tracker", "place"]
    readonly_fields = [f.name for f in StatusHistory._meta.fields]


@admin.register(City)
class CityAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "country_code", "population", "timezone"]
    list_filter = ["country_code"]
    search_fields = ["name"]


@admin.register(GeocodeCache)
class GeocodeCacheAdmin(admin.ModelAdmin):
    list_display = ["provider", "direction", "key", "found", "city", "country_code", "created_at"]
    list_filter = ["provider", "direction", "found"]
    search_fields = ["key", "city", "display_name"]

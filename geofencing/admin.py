from django import forms
from django.contrib import admin
from leaflet.admin import LeafletAdminWidget, LeafletGeoAdmin

from tracking.admin import MacSearchMixin, ReadOnlyAdminMixin

from . import services
from .models import City, GeocodeCache, Place, StatusHistory


class PlaceAdminForm(forms.ModelForm):
    """Staff click the point on the map and drag its radius (or draw a polygon), or type an
    address that is geocoded. The run picker offers the place's own client's runs."""

    class Meta:
        model = Place
        fields = ["client", "kind", "name", "address", "point", "radius_m", "polygon",
                  "production_runs"]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["point"].required = False
        self.fields["point"].help_text = (
            "Click on the map to place it (or use the marker tool); drag the handle on the "
            "circle to set the radius."
        )
        self.fields[
            "polygon"
        ].help_text = (
            "Optional: draw it on the map above with the polygon tool; it replaces the circle."
        )
        client_id = self.instance.client_id or self.data.get("client") or self.initial.get("client")
        runs = self.fields["production_runs"]
        runs.queryset = runs.queryset.select_related("brand__client")
        if client_id:
            runs.queryset = runs.queryset.filter(brand__client_id=client_id)
        else:
            runs.label_from_instance = lambda run: f"{run.brand.client} / {run.name}"

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


class PolygonOnPointMapWidget(LeafletAdminWidget):
    target_map = "point"


@admin.register(Place)
class PlaceAdmin(LeafletGeoAdmin):
    form = PlaceAdminForm
    list_display = ["name", "kind", "client", "radius_m", "address"]
    list_filter = ["kind", "client"]
    search_fields = ["name", "address", "client__name"]
    filter_horizontal = ["production_runs"]
    list_select_related = ["client"]
    # The polygon is drawn on the point's map, which opens at the place.
    settings_overrides = {"DEFAULT_ZOOM": 12}

    class Media:
        css = {"all": ["css/operator.css"]}
        js = ["js/place_form.js"]

    def formfield_for_dbfield(self, db_field, request=None, **kwargs):
        if db_field.name == "polygon":
            kwargs["widget"] = PolygonOnPointMapWidget
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        """Through the services, like every other write of a place."""
        data = form.cleaned_data
        if change:
            services.place_update(
                place=obj,
                **{
                    name: data[name]
                    for name in ("kind", "name", "address", "point", "radius_m", "polygon")
                },  # fmt: skip
            )
            services.place_set_production_runs(place=obj, production_runs=data["production_runs"])
        else:
            created = services.place_create(
                client=data["client"],
                kind=data["kind"],
                name=data["name"],
                address=data["address"],
                point=data["point"],
                radius_m=data["radius_m"],
                polygon=data["polygon"],
                production_runs=data["production_runs"],
            )
            obj.pk = created.pk
            obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """The runs were set by the service in save_model."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(StatusHistory)
class StatusHistoryAdmin(MacSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
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

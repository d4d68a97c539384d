"""Portal: a client's places. Everyone of the client sees the list and its map; the client's
admins add, change and delete places (click the point on the map and drag the radius, draw a
polygon, or type an address that is looked up). Viewers get 403 on every write, other
clients 404. The form holds the geometry (latitude, longitude, radius, polygon GeoJSON), so
the server validates everything; static/js/place_editor.js only fills it from the map."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render

from tracking import geojson
from tracking import selectors as tracking_selectors
from tracking.models import Client, ProductionRun

from .. import selectors, services
from ..models import RADIUS_DEFAULT_M, RADIUS_MAX_M, RADIUS_MIN_M, Place
from .dashboard import url_pattern

PAGE_SIZE = 50


class RunChoiceField(forms.ModelMultipleChoiceField):
    def __init__(self, *args, with_client: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_client = with_client

    def label_from_instance(self, run):
        return f"{run.brand.client.name} / {run.name}" if self.with_client else run.name


class PlaceForm(forms.Form):
    client = forms.ModelChoiceField(queryset=Client.objects.none(), empty_label=None)
    kind = forms.ChoiceField(choices=Place.Kind.choices)
    name = forms.CharField(max_length=200)
    address = forms.CharField(
        max_length=300,
        required=False,
        help_text="Without a point on the map (or with the box below ticked) it is looked up.",
    )
    locate = forms.BooleanField(
        label="Find the point from the address",
        required=False,
        help_text="The address's point replaces the one on the map when you save.",
    )
    latitude = forms.FloatField(
        required=False, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})
    )
    longitude = forms.FloatField(
        required=False, widget=forms.NumberInput(attrs={"step": "any", "inputmode": "decimal"})
    )
    radius_m = forms.IntegerField(
        label="Radius (m)",
        initial=RADIUS_DEFAULT_M,
        help_text=f"{RADIUS_MIN_M} to {RADIUS_MAX_M:,} m; drag the handle on the circle.",
        widget=forms.NumberInput(attrs={"min": RADIUS_MIN_M, "max": RADIUS_MAX_M}),
    )
    polygon = forms.CharField(
        required=False,
        widget=forms.HiddenInput,
        help_text="GeoJSON Polygon drawn on the map; it replaces the circle.",
    )
    production_runs = RunChoiceField(
        label="Runs it serves",
        queryset=ProductionRun.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Run %(value)s is not one of this client's production runs.",
            "invalid_pk_value": "“%(pk)s” is not a production run.",
        },
    )

    def __init__(self, *args, clients, runs, place: Place | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.place = place
        if place is not None:
            del self.fields["client"]
        else:
            self.fields["client"].queryset = clients
            if len(clients) == 1:  # nothing to choose
                self.fields["client"].widget = forms.HiddenInput()
                self.fields["client"].initial = clients[0].pk
                self.fields["client"].required = False
                self.only_client = clients[0]
        runs_field = self.fields["production_runs"]
        runs_field.queryset = runs
        runs_field.with_client = place is None and len(clients) > 1

    only_client = None

    def clean_client(self):
        return self.cleaned_data.get("client") or self.only_client

    def clean_latitude(self):
        value = self.cleaned_data.get("latitude")
        if value is not None and not -90 <= value <= 90:
            raise ValidationError(f"Latitude {value} is not between -90 and 90.")
        return value

    def clean_longitude(self):
        value = self.cleaned_data.get("longitude")
        if value is not None and not -180 <= value <= 180:
            raise ValidationError(f"Longitude {value} is not between -180 and 180.")
        return value

    def clean_radius_m(self):
        value = self.cleaned_data.get("radius_m")
        if value is not None and not RADIUS_MIN_M <= value <= RADIUS_MAX_M:
            raise ValidationError(
                f"A radius of {value} m is out of range: {RADIUS_MIN_M} to {RADIUS_MAX_M:,} m."
            )
        return value

    def clean_polygon(self):
        text = (self.cleaned_data.get("polygon") or "").strip()
        if not text:
            return None
        try:
            geometry = json.loads(text)
        except ValueError as exc:
            raise ValidationError(f"The polygon is not GeoJSON ({exc}): {text[:80]!r}.") from exc
        if (
            not isinstance(geometry, dict)
            or geometry.get("type") != "Polygon"
            or not isinstance(geometry.get("coordinates"), list)
            or len(geometry["coordinates"]) != 1
        ):
            raise ValidationError(
                f"The polygon must be a GeoJSON Polygon with one ring, not {text[:80]!r}."
            )
        try:
            return services.polygon_from_ring(geometry["coordinates"][0])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["polygon"]) from exc

    def clean(self):
        data = super().clean()
        latitude, longitude = data.get("latitude"), data.get("longitude")
        data["point"] = None
        if any(name in self.errors for name in ("latitude", "longitude", "polygon", "address")):
            return data  # the position's own errors say it already
        if data.get("locate"):
            if not data.get("address"):
                self.add_error("address", "Type the address to find the point from.")
        elif data.get("polygon") is not None:
            pass  # the point is the polygon's centroid
        elif latitude is not None and longitude is not None:
            data["point"] = Point(longitude, latitude, srid=4326)
        elif latitude is not None or longitude is not None:
            missing = "longitude" if latitude is not None else "latitude"
            self.add_error(missing, f"Give the {missing} as well, or neither.")
        elif not data.get("address"):
            self.add_error(
                "latitude",
                "Set the point: click on the map (or type latitude and longitude), "
                "or type an address to look up.",
            )
        return data

    def add_service_errors(self, error: ValidationError) -> None:
        """The services' errors on the form's fields (their point is the form's latitude)."""
        fields = {"point": "latitude"}
        for field, messages_ in error.message_dict.items():
            field = fields.get(field, field)
            self.add_error(field if field in self.fields else None, messages_)


def _runs_of(clients):
    return (
        ProductionRun.objects.filter(brand__client__in=clients)
        .select_related("brand__client")
        .order_by("brand__client__name", "name")
    )


def _client_for_new_place(request, clients) -> Client | None:
    """The client named by the form or ?client=: another client's is a 404, a client the user
    only views a 403. Without one, the user must administer some client (403 otherwise)."""
    value = request.POST.get("client") or request.GET.get("client")
    if value:
        if not str(value).isdigit():
            raise ValidationError({"client": f"“{value}” is not a client."})
        client = tracking_selectors.get_visible_or_404(Client.objects.all(), request.user, pk=value)
        if client not in clients:
            raise PermissionDenied("Only an admin of this client may add places.")
        return client
    if not clients:
        raise PermissionDenied("Places are added by a client's administrators.")
    return None


def _require_admin(user, place: Place) -> None:
    if not Client.objects.administered_by(user).filter(pk=place.client_id).exists():
        raise PermissionDenied("Only an admin of this client may change its places.")


def _map_features(rows, *, administered) -> dict:
    """The places for a map; those the user administers open their editor."""
    pattern = url_pattern("portal:place-edit")
    return geojson.feature_collection(
        geojson.place_row_features(rows, url_pattern=pattern, linked=administered)
    )


def _size_text(place: Place) -> str:
    if place.polygon is None:
        return f"radius {place.radius_m:,} m"
    square_m = place.area.sq_m if place.area is not None else 0
    if square_m >= 10_000:
        return f"polygon, {square_m / 10_000:,.1f} ha"
    return f"polygon, {square_m:,.0f} m²"


@login_required
def place_list(request):
    administered = set(
        tracking_selectors.administered_client_list(user=request.user).values_list("pk", flat=True)
    )
    page = Paginator(selectors.place_page_list(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    for place in page.object_list:
        place.size_text = _size_text(place)
    rows = list(selectors.place_map_rows(user=request.user))
    return render(
        request,
        "portal/places.html",
        {
            "page": page,
            "administered": administered,
            "many_clients": len({row["client_id"] for row in rows}) > 1,
            "features": _map_features(rows, administered=administered),
        },
    )


def _editor_context(request, form, *, place: Place | None, clients) -> dict:
    """The form, and the client's other places on the map for reference."""
    client_ids = [place.client_id] if place else [client.pk for client in clients]
    rows = selectors.place_map_rows(
        user=request.user, clients=client_ids, exclude=place.pk if place else None
    )
    return {
        "form": form,
        "place": place,
        "features": _map_features(rows, administered=set(client_ids)),
        "radius_limits": {"min": RADIUS_MIN_M, "max": RADIUS_MAX_M},
    }


@login_required
def place_create(request):
    clients = tracking_selectors.administered_client_list(user=request.user)
    try:
        client = _client_for_new_place(request, clients)
    except ValidationError:
        client = None  # the form's own check names the value
    form = PlaceForm(
        request.POST or None,
        clients=clients,
        runs=_runs_of([client] if client else clients),
        initial={"client": client.pk} if client else {},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            place = services.place_create(
                client=data["client"],
                kind=data["kind"],
                name=data["name"],
                address=data["address"],
                point=data["point"],
                radius_m=data["radius_m"],
                polygon=data["polygon"],
                production_runs=data["production_runs"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"The place “{place.name}” is saved.")
            return redirect("portal:place-edit", pk=place.pk)
    return render(
        request,
        "portal/place_form.html",
        _editor_context(request, form, place=None, clients=clients),
    )


def _initial(place: Place) -> dict:
    return {
        "kind": place.kind,
        "name": place.name,
        "address": place.address,
        "latitude": round(place.point.y, 6) if place.polygon is None else None,
        "longitude": round(place.point.x, 6) if place.polygon is None else None,
        "radius_m": place.radius_m,
        "polygon": json.dumps(geojson.place_feature(place)["geometry"]) if place.polygon else "",
        "production_runs": list(place.production_runs.all()),
    }


@login_required
def place_edit(request, pk: int):
    place = selectors.place_get(user=request.user, pk=pk)
    _require_admin(request.user, place)
    form = PlaceForm(
        request.POST or None,
        clients=Client.objects.filter(pk=place.client_id),
        runs=_runs_of([place.client_id]),
        place=place,
        initial=_initial(place),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {name: data[name] for name in ("kind", "name", "address", "radius_m", "polygon")}
        if data["polygon"] is not None:
            fields["point"] = services.point_of_polygon(data["polygon"])
        elif data["point"] is not None:
            fields["point"] = data["point"]
        try:
            with transaction.atomic():
                services.place_update(place=place, **fields)
                services.place_set_production_runs(
                    place=place, production_runs=data["production_runs"]
                )
        except ValidationError as exc:
            form.add_service_errors(exc)
            place.refresh_from_db()
        else:
            messages.success(request, f"The place “{place.name}” is saved.")
            return redirect("portal:place-edit", pk=place.pk)
    return render(
        request, "portal/place_form.html", _editor_context(request, form, place=place, clients=None)
    )


@login_required
def place_delete(request, pk: int):
    """A confirmation page; the POST deletes. The status history keeps its changes (their
    place is cleared), and the delete waits for a running status evaluation."""
    place = selectors.place_get(user=request.user, pk=pk)
    _require_admin(request.user, place)
    if request.method == "POST":
        name = place.name
        services.place_delete(place=place)
        messages.success(request, f"The place “{name}” is deleted.")
        return redirect("portal:places")
    return render(request, "portal/place_delete.html", {"place": place})

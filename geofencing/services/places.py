"""Places: delivery and storage locations, a circle (point + radius) or a polygon."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.gis.geos import GEOSException, LinearRing, Point, Polygon
from django.core.exceptions import ValidationError
from django.db import transaction

from tracking.models import Client, ProductionRun

from ..geocoding import GeocodingError, forward_geocode
from ..models import Place


def check_runs_belong_to(client: Client, production_runs: Iterable[ProductionRun]) -> None:
    foreign = [run for run in production_runs if run.brand.client_id != client.pk]
    if foreign:
        names = ", ".join(run.name for run in foreign)
        raise ValidationError(
            {"production_runs": f"A place can only serve its own client's runs (not {names})."}
        )


def point_for(*, point: Point | None, address: str) -> Point:
    if point is not None:
        return point
    if not address:
        raise ValidationError({"point": "Give a point, or an address to look up."})
    try:
        found = forward_geocode(address=address)
    except GeocodingError as exc:
        raise ValidationError({"address": f"The address could not be looked up: {exc}"}) from exc
    if found is None:
        raise ValidationError({"address": f"No place found for the address “{address}”."})
    return found


def polygon_from_ring(ring: list) -> Polygon:
    """A polygon from one outer ring of [longitude, latitude] pairs (GeoJSON's order): closed,
    at least four pairs, not crossing itself, enclosing an area. Errors name the value."""
    if not isinstance(ring, list) or len(ring) < 4:
        raise ValidationError(
            {"polygon": "A polygon needs at least three corners (four pairs, the first repeated)."}
        )
    pairs = []
    for pair in ring:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
        ):
            raise ValidationError({"polygon": f"{pair!r} is not a [longitude, latitude] pair."})
        lon, lat = float(pair[0]), float(pair[1])
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValidationError({"polygon": f"[{lon}, {lat}] is not a longitude, latitude pair."})
        pairs.append((lon, lat))
    if pairs[0] != pairs[-1]:
        raise ValidationError(
            {"polygon": "The ring must be closed: repeat the first pair at the end."}
        )
    try:
        polygon = Polygon(LinearRing(pairs), srid=4326)
        valid, reason = polygon.valid, polygon.valid_reason
    except (GEOSException, ValueError, TypeError) as exc:
        raise ValidationError({"polygon": f"The ring is not a polygon: {exc}."}) from exc
    if not valid:
        raise ValidationError({"polygon": f"The polygon is not valid: {reason}."})
    if polygon.area == 0:
        raise ValidationError({"polygon": "The polygon encloses no area."})
    return polygon


def check_name_free(place: Place) -> None:
    """A client's places have distinct names; the error names the field and the name."""
    taken = Place.objects.filter(client_id=place.client_id, name=place.name)
    if place.pk:
        taken = taken.exclude(pk=place.pk)
    if taken.exists():
        raise ValidationError(
            {"name": f"A place named “{place.name}” already exists for this client."}
        )


def point_of_polygon(polygon: Polygon) -> Point:
    point = polygon.centroid
    point.srid = polygon.srid or 4326
    return point


@transaction.atomic
def place_create(
    *,
    client: Client,
    kind: str,
    name: str,
    point: Point | None = None,
    address: str = "",
    radius_m: int = Place._meta.get_field("radius_m").default,
    polygon: Polygon | None = None,
    production_runs: Iterable[ProductionRun] = (),
) -> Place:
    """A delivery or storage place; without a point the address is geocoded."""
    production_runs = list(production_runs)
    check_runs_belong_to(client, production_runs)
    if point is None and polygon is not None:
        point = point_of_polygon(polygon)
    place = Place(
        client=client,
        kind=kind,
        name=name,
        address=address,
        point=point_for(point=point, address=address),
        radius_m=radius_m,
        polygon=polygon,
    )
    check_name_free(place)
    place.full_clean()
    place.save()
    place.production_runs.set(production_runs)
    return place


@transaction.atomic
def place_update(*, place: Place, **fields) -> Place:
    """Change a place's fields (kind, name, address, point, radius_m, polygon)."""
    allowed = {"kind", "name", "address", "point", "radius_m", "polygon"}
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"place_update does not change {sorted(unknown)}")
    for name, value in fields.items():
        setattr(place, name, value)
    if "address" in fields and "point" not in fields and fields["address"]:
        place.point = point_for(point=None, address=fields["address"])
    if "name" in fields:
        check_name_free(place)
    place.full_clean()
    place.save()
    place.refresh_from_db(fields=["zone"])
    return place


@transaction.atomic
def place_set_production_runs(*, place: Place, production_runs: Iterable[ProductionRun]) -> None:
    production_runs = list(production_runs)
    check_runs_belong_to(place.client, production_runs)
    place.production_runs.set(production_runs)


@transaction.atomic
def place_delete(*, place: Place) -> None:
    """Delete a place. Deleting waits for a running status evaluation first (the pre_delete
    receiver in apps.py), and the engine's links to it are cleared (models.place_link)."""
    place.delete()


@transaction.atomic
def places_seed_demo(*, production_run: ProductionRun) -> list[Place]:
    """One storage and two delivery places around Vienna for a demo run; safe to call again."""
    client = production_run.brand.client
    specs = [
        ("Vienna central warehouse", Place.Kind.STORAGE, "Laxenburger Str. 365, 1230 Wien",
         16.3565, 48.1478, 250),
        ("Vienna Mitte store", Place.Kind.DELIVERY, "Landstraßer Hauptstraße 1b, 1030 Wien",
         16.3849, 48.2066, 120),
        ("Vienna Donauzentrum store", Place.Kind.DELIVERY, "Wagramer Str. 94, 1220 Wien",
         16.4316, 48.2424, 150),
    ]  # fmt: skip
    places = []
    for name, kind, address, lon, lat, radius_m in specs:
        place, _ = Place.objects.update_or_create(
            client=client,
            name=name,
            defaults={
                "kind": kind,
                "address": address,
                "point": Point(lon, lat, srid=4326),
                "radius_m": radius_m,
            },
        )
        place.production_runs.add(production_run)
        places.append(place)
    return places

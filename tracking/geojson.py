"""GeoJSON for the maps: one set of helpers for admin pages, portal pages and the map component
(static/js/map_component.js, templates/maps/map.html).

Features carry a `kind` the component draws by: "tracker" (a point coloured by status, with its
accuracy circle), "track" (a line with its points' times), "place" (a circle of `radius_m`
around a point, or a polygon). Coordinates are GeoJSON's: longitude first.

Places live in geofencing, which tracking may not import, so `place_feature` reads any object
with a place's attributes (point, radius_m, polygon, kind, name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.http import HttpResponse

Feature = dict[str, Any]


def _at(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def feature_collection(features: Iterable[Feature]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": [f for f in features if f is not None]}


def tracker_feature(tracker, *, url: str = "") -> Feature | None:
    """The tracker at its last position; None when it has never reported one."""
    if tracker.last_point is None:
        return None
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [tracker.last_point.x, tracker.last_point.y]},
        "properties": {
            "kind": "tracker",
            "id": tracker.pk,
            "mac": tracker.mac_address,
            "label": tracker.label,
            "status": tracker.status,
            "status_label": tracker.get_status_display(),
            "accuracy_m": tracker.last_accuracy_m,
            "last_report_at": _at(tracker.last_report_at),
            "city": tracker.nearest_city,
            "url": url,
        },
    }


def tracker_position_features(rows: Iterable[dict[str, Any]]) -> list[Feature]:
    """Compact tracker points for maps of many trackers (clustered, refreshed), from
    selectors.tracker_position_list rows. Coordinates are rounded to 6 decimals (about 0.1 m),
    empty properties are left out, and there is no URL per tracker: the map builds it from
    its `tracker_url` pattern and the id."""
    features = []
    for row in rows:
        properties = {"kind": "tracker", "id": row["id"], "mac": row["mac_address"],
                      "status": row["status"]}  # fmt: skip
        if row["label"]:
            properties["label"] = row["label"]
        if row["last_report_at"]:
            properties["last_report_at"] = _at(row["last_report_at"])
        if row["nearest_city"]:
            properties["city"] = row["nearest_city"]
        features.append(
            {
                "type": "Feature",
                "geometry": {
                    "type": "Point",
                    "coordinates": [round(row["lon"], 6), round(row["lat"], 6)],
                },
                "properties": properties,
            }
        )
    return features


def track_feature(
    points: Sequence[tuple[float, float, datetime, int]], *, resolution: str = "reports"
) -> Feature | None:
    """A track from (longitude, latitude, time, reports) tuples, oldest first."""
    if not points:
        return None
    return {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[lon, lat] for lon, lat, _, _ in points],
        },
        "properties": {
            "kind": "track",
            "resolution": resolution,
            "times": [_at(at) for _, _, at, _ in points],
            "reports": [n for _, _, _, n in points],
        },
    }


def place_feature(place, *, url: str = "") -> Feature:
    """A place as its polygon, or as its point with the radius the map draws as a circle."""
    if place.polygon is not None:
        geometry = {
            "type": "Polygon",
            "coordinates": [list(map(list, ring)) for ring in place.polygon.coords],
        }
    else:
        geometry = {"type": "Point", "coordinates": [place.point.x, place.point.y]}
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {
            "kind": "place",
            "id": place.pk,
            "name": place.name,
            "place_kind": place.kind,
            "radius_m": place.radius_m,
            "url": url,
        },
    }


def place_row_features(
    rows: Iterable[dict[str, Any]], *, url_pattern: str = "", linked: Iterable[int] = ()
) -> list[Feature]:
    """Places from plain rows (id, client_id, name, kind, radius_m, lon, lat and
    polygon_geojson, the polygon as GeoJSON text or None), the same features as
    `place_feature` without a geometry object per row. Places of the clients in `linked` get
    `url_pattern` with "{id}" replaced by their id."""
    linked = set(linked)
    features = []
    for row in rows:
        if row["polygon_geojson"]:
            geometry = json.loads(row["polygon_geojson"])
        else:
            geometry = {"type": "Point", "coordinates": [row["lon"], row["lat"]]}
        url = ""
        if url_pattern and row["client_id"] in linked:
            url = url_pattern.replace("{id}", str(row["id"]))
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "kind": "place",
                    "id": row["id"],
                    "name": row["name"],
                    "place_kind": row["kind"],
                    "radius_m": row["radius_m"],
                    "url": url,
                },
            }
        )
    return features


def shared_tracker_feature(tracker, *, label: str) -> Feature | None:
    """The tracker for a share link's public page: its position, status and `label`, and
    nothing that identifies the device (no MAC, no id, no portal link)."""
    feature = tracker_feature(tracker)
    if feature is None:
        return None
    properties = feature["properties"]
    del properties["mac"], properties["id"], properties["url"]
    properties["label"] = label
    return feature


def response(collection: dict[str, Any], *, features_json: str = "") -> HttpResponse:
    """A FeatureCollection as the answer of a map's scoped endpoint (application/geo+json,
    compact, never cached: it is one user's view and changes every minute). `features_json`
    is a JSON array of more features the database has already written (thousands of
    trackers, selectors.tracker_position_features_json)."""
    parts = [json.dumps(feature, separators=(",", ":")) for feature in collection["features"]]
    more = features_json.strip()[1:-1].strip()
    if more:
        parts.append(more)
    answer = HttpResponse(
        '{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}",
        content_type="application/geo+json",
    )
    answer["Cache-Control"] = "private, no-cache"
    return answer

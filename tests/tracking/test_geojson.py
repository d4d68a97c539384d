"""The shared GeoJSON helpers: longitude first, kinds the map component draws by."""

from datetime import UTC, datetime
from types import SimpleNamespace

from django.contrib.gis.geos import Point, Polygon

from tests.factories import TrackerFactory
from tracking import geojson
from tracking.models import Tracker

AT = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def test_tracker_without_a_position_is_left_out(db):
    tracker = TrackerFactory()
    assert geojson.tracker_feature(tracker) is None
    assert geojson.feature_collection([geojson.tracker_feature(tracker)])["features"] == []


def test_tracker_feature_carries_status_and_accuracy(db):
    tracker = TrackerFactory(label="pallet 7")
    tracker.last_point = Point(16.37, 48.2, srid=4326)
    tracker.last_accuracy_m = 42.0
    tracker.last_report_at = AT
    tracker.status = Tracker.Status.IN_STORAGE
    feature = geojson.tracker_feature(tracker, url="/t/1/")
    assert feature["geometry"] == {"type": "Point", "coordinates": [16.37, 48.2]}
    props = feature["properties"]
    assert (props["kind"], props["status"], props["status_label"]) == (
        "tracker", "IN_STORAGE", "In storage",
    )  # fmt: skip
    assert (props["accuracy_m"], props["label"], props["url"]) == (42.0, "pallet 7", "/t/1/")
    assert props["last_report_at"] == "2026-11-02T08:00:00+00:00"


def test_track_feature_is_a_line_with_its_times():
    feature = geojson.track_feature([(16.0, 48.0, AT, 1), (16.1, 48.1, AT, 3)], resolution="hourly")
    assert feature["geometry"]["coordinates"] == [[16.0, 48.0], [16.1, 48.1]]
    assert feature["properties"]["reports"] == [1, 3]
    assert feature["properties"]["resolution"] == "hourly"
    assert geojson.track_feature([]) is None


def test_place_feature_is_a_circle_or_its_polygon():
    circle = SimpleNamespace(pk=1, name="Depot", kind="STORAGE", radius_m=250,
                             point=Point(16.0, 48.0), polygon=None)  # fmt: skip
    feature = geojson.place_feature(circle)
    assert feature["geometry"] == {"type": "Point", "coordinates": [16.0, 48.0]}
    assert feature["properties"]["radius_m"] == 250
    ring = ((16.0, 48.0), (16.1, 48.0), (16.1, 48.1), (16.0, 48.0))
    shaped = SimpleNamespace(**{**circle.__dict__, "polygon": Polygon(ring)})
    geometry = geojson.place_feature(shaped)["geometry"]
    assert geometry["type"] == "Polygon"
    assert geometry["coordinates"][0][1] == [16.1, 48.0]

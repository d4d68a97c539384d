"""Streamed downloads: the tracker list as filtered, a run's trackers with their statuses, a
tracker's history as CSV, GPX and GeoJSON; full-precision coordinates (south and west too),
ISO 8601 UTC times, no secrets, other clients' objects 404."""

import csv
import hashlib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import ProductionRunFactory, TrackerFactory
from tracking import encryption, exports
from tracking.models import LocationReport, Tracker

pytestmark = pytest.mark.django_db

SEEN = datetime(2026, 3, 1, 12, 30, 15, tzinfo=UTC)


def _rows(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def placed(world):
    """A's tracker in Santiago de Chile (south, west), at full precision; B's in Vienna."""
    Tracker.objects.filter(pk=world.tracker_a.pk).update(
        label='=HYPERLINK("http://x")',
        status=Tracker.Status.IN_STORAGE,
        status_changed_at=SEEN - timedelta(hours=2),
        last_point=Point(-70.66926812345678, -33.44888912345678, srid=4326),
        last_accuracy_m=12.5,
        last_report_at=SEEN,
        nearest_city="Santiago",
        nearest_country_code="CL",
    )
    Tracker.objects.filter(pk=world.tracker_b.pk).update(
        label="Bravo crate", last_point=Point(16.37, 48.2, srid=4326), last_report_at=SEEN
    )
    return world


def test_tracker_list_csv_has_the_visible_trackers_at_full_precision(client, placed):
    w = placed
    client.force_login(w.a_viewer)
    response = client.get(reverse("portal:tracker-list-export"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="trackers-')
    rows = _rows(response)
    assert [r["mac_address"] for r in rows] == [w.tracker_a.mac_address]
    row = rows[0]
    stored = Tracker.objects.get(pk=w.tracker_a.pk).last_point  # as PostGIS keeps it
    assert (float(row["longitude"]), float(row["latitude"])) == (stored.x, stored.y)
    assert abs(float(row["latitude"]) + 33.44888912345678) < 1e-12  # not rounded
    assert abs(float(row["longitude"]) + 70.66926812345678) < 1e-12
    assert row["last_seen_at"] == "2026-03-01T12:30:15+00:00"
    assert row["status_changed_at"] == "2026-03-01T10:30:15+00:00"
    assert row["status"] == "IN_STORAGE" and row["accuracy_m"] == "12.5"
    assert row["label"] == '\'=HYPERLINK("http://x")'  # shown by a spreadsheet, not run
    assert row["production_run"] == w.run_a.name and row["client"] == "Alpha Logistics"
    assert row["nearest_city"] == "Santiago" and row["country_code"] == "CL"


def test_tracker_list_csv_follows_the_list_filters_and_order(client, placed):
    w = placed
    second = TrackerFactory(production_run=w.run_a, label="Second")
    client.force_login(w.a_admin)
    url = reverse("portal:tracker-list-export")
    assert [r["label"] for r in _rows(client.get(url, {"q": "second"}))] == ["Second"]
    assert [r["mac_address"] for r in _rows(client.get(url, {"seen": "never"}))] == [
        second.mac_address
    ]
    everything = _rows(client.get(url, {"sort": "-seen", "page": "7"}))  # every page
    assert [r["mac_address"] for r in everything] == [w.tracker_a.mac_address, second.mac_address]


def test_tracker_list_csv_holds_no_key(client, placed):
    w = placed
    client.force_login(w.staff)
    body = b"".join(client.get(reverse("portal:tracker-list-export")).streaming_content)
    for tracker in Tracker.objects.all():
        private = encryption.decrypt(tracker.private_key_encrypted)
        for secret in (private.hex(), private.hex().upper(), tracker.advertisement_key.hex(),
                       tracker.hashed_advertisement_key):  # fmt: skip
            assert secret.encode() not in body
        assert bytes(tracker.private_key_encrypted) not in body
    assert b"Bravo crate" in body  # staff see every client's


def test_run_csv_lists_the_runs_trackers_with_statuses(client, placed):
    w = placed
    other = TrackerFactory(production_run=ProductionRunFactory(client=w.client_a))
    client.force_login(w.a_admin)
    response = client.get(reverse("portal:run-export", args=[w.run_a.pk]))
    assert f'filename="run-{w.run_a.pk}-alpha-spring-run-' in response["Content-Disposition"]
    rows = _rows(response)
    assert [(r["mac_address"], r["status"]) for r in rows] == [
        (w.tracker_a.mac_address, "IN_STORAGE")
    ]
    assert other.mac_address not in str(rows)
    client.force_login(w.b_admin)
    assert client.get(reverse("portal:run-export", args=[w.run_a.pk])).status_code == 404


def test_run_csv_streams_from_a_cursor_in_constant_queries(client, world):
    from tests.portal.bulk import trackers_bulk

    trackers_bulk(world.run_a, 1200)
    client.force_login(world.a_admin)
    client.get(reverse("portal:dashboard"))  # warm the header's cached unread count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("portal:run-export", args=[world.run_a.pk]))
        rows = _rows(response)
    assert len(rows) == 1201
    assert len(queries) < 12


# --- A tracker's history: CSV, GPX, GeoJSON ---------------------------------------------

GPX = "{http://www.topografix.com/GPX/1/1}"


def _reports(tracker, points) -> None:
    """points: (observed_at, lon, lat, accuracy), written in one INSERT."""
    LocationReport.objects.bulk_create(
        LocationReport(
            tracker=tracker,
            observed_at=at,
            point=Point(lon, lat, srid=4326),
            horizontal_accuracy=accuracy,
            confidence=2,
            status_byte=0,
            payload_hash=hashlib.sha256(f"{tracker.pk}-{at.isoformat()}-{lon}".encode()).digest(),
        )
        for at, lon, lat, accuracy in points
    )


@pytest.fixture
def travelled(world):
    """A's tracker crossed from Sydney to Buenos Aires in the last two days (south, west and
    east); one older report, one before its activation; B's tracker reported too."""
    now = timezone.now().replace(microsecond=0)
    Tracker.objects.filter(pk=world.tracker_a.pk).update(
        activated_at=now - timedelta(days=30), label="Pallet <7> & co"
    )
    world.tracker_a.refresh_from_db()
    world.points = [
        (now - timedelta(hours=40), 151.20929912345678, -33.86881512345678, 15),
        (now - timedelta(hours=20), -58.381559123456789, -34.603684123456789, 30),
        (now - timedelta(hours=1), -58.370001, -34.6100005, 8),
    ]
    _reports(world.tracker_a, world.points)
    _reports(world.tracker_a, [(now - timedelta(days=5), 10.0, 50.0, 20)])  # outside 2 days
    _reports(world.tracker_a, [(now - timedelta(days=40), 11.0, 51.0, 20)])  # before activation
    _reports(world.tracker_b, [(now - timedelta(hours=2), 16.37, 48.2, 5)])
    return world


def _export(client, tracker, fmt, **params):
    return client.get(
        reverse("portal:tracker-history-export", args=[tracker.pk, fmt]), params or None
    )


def _body(response) -> str:
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    return b"".join(response.streaming_content).decode()


def test_history_csv_has_the_ranges_reports_in_order_at_full_precision(client, travelled):
    w = travelled
    client.force_login(w.a_viewer)
    response = _export(client, w.tracker_a, "csv")  # the page's default: 2 days
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    mac = w.tracker_a.mac_address.replace(":", "")
    assert re.fullmatch(
        rf'attachment; filename="tracker-{mac}-\d{{8}}-\d{{8}}\.csv"',
        response["Content-Disposition"],
    )
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert [r["observed_at"] for r in rows] == [at.isoformat() for at, *_ in w.points]
    assert rows[0]["observed_at"].endswith("+00:00")
    stored = list(
        LocationReport.objects.filter(tracker=w.tracker_a, observed_at__in=[p[0] for p in w.points])
        .order_by("observed_at")
        .values_list("point", flat=True)
    )
    for row, point, (_, lon, lat, accuracy) in zip(rows, stored, w.points, strict=True):
        assert (float(row["longitude"]), float(row["latitude"])) == (point.x, point.y)
        assert (
            abs(float(row["longitude"]) - lon) < 1e-12 and abs(float(row["latitude"]) - lat) < 1e-12
        )
        assert row["horizontal_accuracy_m"] == str(accuracy)
        assert row["mac_address"] == w.tracker_a.mac_address
    assert float(rows[1]["latitude"]) < 0 and float(rows[1]["longitude"]) < 0


def test_history_csv_follows_the_pages_range_and_the_activation(client, travelled):
    w = travelled
    client.force_login(w.a_admin)
    week = list(csv.DictReader(io.StringIO(_body(_export(client, w.tracker_a, "csv", days="7")))))
    assert len(week) == 4  # the 5-day-old one too
    year = list(csv.DictReader(io.StringIO(_body(_export(client, w.tracker_a, "csv", days="365")))))
    assert len(year) == 4  # never the one before the tracker's activation
    today = timezone.localdate()
    ranged = _export(client, w.tracker_a, "csv", start=str(today - timedelta(days=6)),
                     end=str(today - timedelta(days=4)))  # fmt: skip
    assert [r["longitude"] for r in csv.DictReader(io.StringIO(_body(ranged)))] == ["10.0"]
    bad = _export(client, w.tracker_a, "csv", start="2026-02-30", end="2026-03-01")
    assert bad.status_code == 400 and b"start: '2026-02-30' is not a date" in bad.content


def test_history_gpx_is_gpx_1_1_with_trkpts(client, travelled):
    w = travelled
    client.force_login(w.a_admin)
    response = _export(client, w.tracker_a, "gpx")
    assert response["Content-Type"] == "application/gpx+xml; charset=utf-8"
    assert response["Content-Disposition"].endswith('.gpx"')
    root = ElementTree.fromstring(_body(response).encode())
    assert root.tag == f"{GPX}gpx" and root.attrib["version"] == "1.1"
    assert root.find(f"{GPX}trk/{GPX}name").text == f"{w.tracker_a.mac_address} · Pallet <7> & co"
    points = root.findall(f"{GPX}trk/{GPX}trkseg/{GPX}trkpt")
    assert len(points) == 3
    for point, (at, lon, lat, _) in zip(points, w.points, strict=True):
        assert abs(float(point.attrib["lat"]) - lat) < 1e-12
        assert abs(float(point.attrib["lon"]) - lon) < 1e-12
        assert datetime.fromisoformat(point.find(f"{GPX}time").text) == at
    assert -90 <= float(points[1].attrib["lat"]) < 0 and -180 <= float(points[1].attrib["lon"]) < 0


def test_history_geojson_is_a_feature_collection_of_points(client, travelled):
    w = travelled
    client.force_login(w.a_admin)
    response = _export(client, w.tracker_a, "geojson", days="7")
    assert response["Content-Type"] == "application/geo+json; charset=utf-8"
    data = json.loads(_body(response))
    assert data["type"] == "FeatureCollection"
    assert data["properties"]["mac_address"] == w.tracker_a.mac_address
    features = data["features"]
    assert len(features) == 4
    last = features[-1]
    assert last["type"] == "Feature" and last["geometry"]["type"] == "Point"
    lon, lat = last["geometry"]["coordinates"]
    assert (lon, lat) == pytest.approx((-58.370001, -34.6100005), abs=1e-12)
    assert last["properties"] == {"observed_at": w.points[-1][0].isoformat(), "accuracy_m": 8}
    empty = json.loads(
        _body(_export(client, w.tracker_a, "geojson", start="2021-01-01", end="2021-01-02"))
    )
    assert empty["features"] == []


def test_history_exports_are_scoped_and_hold_no_secret(client, travelled):
    w = travelled
    client.force_login(w.b_admin)
    for fmt in ("csv", "gpx", "geojson"):
        assert _export(client, w.tracker_a, fmt).status_code == 404
    assert _export(client, w.tracker_a, "csv", start="bad", end="bad").status_code == 404
    client.force_login(w.a_admin)
    assert _export(client, w.tracker_a, "kml").status_code == 404
    assert _export(client, w.tracker_b, "csv").status_code == 404
    private = encryption.decrypt(w.tracker_a.private_key_encrypted)
    for fmt in ("csv", "gpx", "geojson"):
        body = _body(_export(client, w.tracker_a, fmt, days="365"))
        for secret in (private.hex(), w.tracker_a.advertisement_key.hex(),
                       w.tracker_a.hashed_advertisement_key):  # fmt: skip
            assert secret not in body and secret.upper() not in body


def test_history_csv_streams_a_year_of_hourly_reports(client, world):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    hours = 365 * 24
    _reports(
        world.tracker_a,
        (
            (now - timedelta(hours=h), -70.0 + h / 10_000, -33.0 - h / 10_000, 10)
            for h in range(hours)
        ),  # fmt: skip
    )
    client.force_login(world.a_admin)
    client.get(reverse("portal:dashboard"))  # warm the header's cached unread count
    with CaptureQueriesContext(connection) as queries:
        response = _export(client, world.tracker_a, "csv", days="365")
        assert response.streaming
        stream = iter(response.streaming_content)
        chunks = [next(stream), next(stream)]
        # Mid-stream, the rows come from a cursor held open in the database.
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_cursors WHERE name LIKE '_django_curs_%%'")
            assert cursor.fetchone()[0] == 1
        chunks += list(stream)
    assert len(chunks) > hours // exports.CHUNK_ROWS  # written as it is read, not at once
    lines = b"".join(chunks).decode().splitlines()
    assert lines[0] == "mac_address,observed_at,latitude,longitude,horizontal_accuracy_m"
    # The range is [now - 365 days, now]: its last hour's report is the newest one.
    assert len(lines) - 1 == hours
    assert len(queries) < 10


def test_pages_link_their_downloads(client, world):
    client.force_login(world.a_viewer)
    html = client.get(
        reverse("portal:tracker-history", args=[world.tracker_a.pk]), {"days": "30"}
    ).content.decode()
    for fmt in ("csv", "gpx", "geojson"):
        url = reverse("portal:tracker-history-export", args=[world.tracker_a.pk, fmt])
        assert f'href="{url}?days=30"' in html
    refused = client.get(  # the page shows its default range: so do the links
        reverse("portal:tracker-history", args=[world.tracker_a.pk]), {"days": "3"}
    ).content.decode()
    assert f'href="{url}"' in refused
    html = client.get(reverse("portal:run-detail", args=[world.run_a.pk])).content.decode()
    assert f'href="{reverse("portal:run-export", args=[world.run_a.pk])}"' in html
    html = client.get(reverse("portal:tracker-list")).content.decode()
    assert f'href="{reverse("portal:tracker-list-export")}"' in html

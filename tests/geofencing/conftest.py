"""Helpers for geofencing tests: places, trackers and reports written straight to the tables."""

import hashlib
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from geopy.distance import geodesic

from geofencing import services
from geofencing.models import Place
from tests.factories import TrackerFactory
from tracking.models import LocationReport

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
_payloads = itertools.count()


def offset(lon: float, lat: float, *, metres: float, bearing: float = 90.0) -> tuple[float, float]:
    """The point `metres` away from (lon, lat) along `bearing`, on the WGS84 ellipsoid."""
    dest = geodesic(meters=metres).destination((lat, lon), bearing)
    return dest.longitude, dest.latitude


def add_report(tracker, lon: float, lat: float, *, minutes: float = 0, accuracy: int = 20):
    return LocationReport.objects.create(
        tracker=tracker,
        observed_at=T0 + timedelta(minutes=minutes),
        point=Point(lon, lat, srid=4326),
        horizontal_accuracy=accuracy,
        confidence=2,
        status_byte=0,
        payload_hash=hashlib.sha256(f"report-{next(_payloads)}".encode()).digest(),
    )


@pytest.fixture
def make_place():
    def make(run, kind, lon, lat, *, radius_m=100, name=None, polygon=None, client=None):
        return services.place_create(
            client=client or run.brand.client,
            kind=kind,
            name=name or f"{kind} {lon:.4f} {lat:.4f}",
            point=Point(lon, lat, srid=4326),
            radius_m=radius_m,
            polygon=polygon,
            production_runs=[run],
        )

    return make


@pytest.fixture
def tracker_a(world):
    return TrackerFactory(production_run=world.run_a)


DELIVERY = Place.Kind.DELIVERY
STORAGE = Place.Kind.STORAGE


class FakeNominatim(BaseHTTPRequestHandler):
    calls: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's spelling
        url = urlparse(self.path)
        query = parse_qs(url.query)
        FakeNominatim.calls.append(url.path)
        if url.path == "/reverse":
            body = {"lat": query["lat"][0], "lon": query["lon"][0],
                    "display_name": "Stephansplatz, Innere Stadt, Wien, Österreich",
                    "address": {"city": "Vienna", "country_code": "at"}}  # fmt: skip
        elif url.path == "/search" and "nowhere" in query["q"][0].lower():
            body = []
        elif url.path == "/search":
            body = [{"lat": "48.2084", "lon": "16.3731", "display_name": "Stephansplatz, Wien"}]
        else:
            self.send_response(404)
            self.end_headers()
            return
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def nominatim(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeNominatim)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeNominatim.calls = []
    settings.GEOCODER_PROVIDER = "nominatim"
    settings.GEOCODER_DOMAIN = f"127.0.0.1:{server.server_port}"
    settings.GEOCODER_SCHEME = "http"
    settings.GEOCODER_MIN_INTERVAL_SECONDS = 0.05
    yield FakeNominatim
    server.shutdown()


def reports_every(tracker, *, minutes: int, days: int, end, lon: float = 16.3, lat: float = 48.2):
    """A report every `minutes` over the `days` before `end` (the newest at `end`, each older
    one 0.0001 degrees further east of (lon, lat)), written in one statement, then rolled
    up."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tracking_locationreport (tracker_id, observed_at, received_at, point,
                horizontal_accuracy, confidence, status_byte, payload_hash)
            SELECT %(tracker)s, %(end)s - n * make_interval(mins => %(minutes)s), %(end)s,
                   ST_SetSRID(ST_MakePoint(%(lon)s + n * 0.0001, %(lat)s), 4326)::geography,
                   20, 2, 0, sha256(convert_to(%(tracker)s || '-' || n, 'UTF8'))
            FROM generate_series(0, %(count)s - 1) n
            """,
            {"tracker": tracker.pk, "end": end, "minutes": minutes, "lon": lon, "lat": lat,
             "count": days * 24 * 60 // minutes},
        )  # fmt: skip
    services.rollup_locations()

"""Streamed downloads: the tracker list as filtered, a run's trackers with their statuses;
full-precision coordinates (south and west too), ISO 8601 UTC times, no secrets."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import ProductionRunFactory, TrackerFactory
from tracking import encryption
from tracking.models import Tracker

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

"""A tracker's activation in its production run (Tracker.activated_at): set by the import,
backfilled for trackers already in a run, and the start of everything its customer reads."""

import hashlib
import importlib
import itertools
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from fleet import services as fleet
from geofencing import services as geofencing
from geofencing.models import StatusHistory
from tests.api.conftest import jwt_pair
from tests.factories import ProductionRunFactory, TrackerFactory
from tests.fleet.factories import CustomerOrderFactory, StockTrackerFactory
from tracking import selectors
from tracking.models import AuditEvent, LocationReport, Tracker

pytestmark = pytest.mark.django_db
_payloads = itertools.count()


def _report(tracker, at, lon=16.37, lat=48.21):
    return LocationReport.objects.create(
        tracker=tracker,
        observed_at=at,
        point=Point(lon, lat, srid=4326),
        horizontal_accuracy=15,
        confidence=2,
        status_byte=0,
        payload_hash=hashlib.sha256(f"activation-{next(_payloads)}".encode()).digest(),
    )


def _allocated(world, n=1):
    trackers = [StockTrackerFactory() for _ in range(n)]
    order = CustomerOrderFactory(client=world.client_a, quantity=n)
    fleet.order_allocate(
        order=order, macs_text="\n".join(t.mac_address for t in trackers), user=world.staff
    )
    return trackers


def test_import_activates_the_tracker_now(world):
    (tracker,) = _allocated(world)
    before = timezone.now()
    fleet.trackers_import(
        production_run=world.run_a, macs_text=tracker.mac_address, user=world.staff
    )
    tracker.refresh_from_db()
    assert tracker.lifecycle_state == Tracker.Lifecycle.ACTIVE
    assert before <= tracker.activated_at <= timezone.now()


def test_reimport_into_a_new_run_hides_the_old_runs_reports_and_position(world):
    (tracker,) = _allocated(world)
    now = timezone.now()
    old_run = ProductionRunFactory(
        client=world.client_a, starts_at=now - timedelta(days=20), ends_at=now + timedelta(days=1)
    )
    fleet.trackers_import(production_run=old_run, macs_text=tracker.mac_address, user=world.staff)
    old_report = _report(tracker, now - timedelta(hours=5))
    Tracker.objects.filter(pk=tracker.pk).update(
        activated_at=now - timedelta(days=1),  # as if imported a day ago
        last_report_at=old_report.observed_at,
        last_point=old_report.point,
        last_accuracy_m=15,
        nearest_city="Vienna",
        nearest_country_code="AT",
    )
    tracker.refresh_from_db()
    assert list(selectors.customer_reports(user=world.a_viewer, tracker=tracker)) == [old_report]

    old_run.ends_at = now - timedelta(hours=1)
    old_run.save()
    fleet.trackers_import(
        production_run=world.run_a, macs_text=tracker.mac_address, user=world.staff
    )
    tracker.refresh_from_db()
    assert tracker.production_run == world.run_a
    assert tracker.activated_at > old_report.observed_at
    # The last position was the old run's: gone until the first report in this run.
    assert (tracker.last_point, tracker.last_report_at, tracker.nearest_city) == (None, None, "")
    new_report = _report(tracker, timezone.now() + timedelta(seconds=1))
    assert list(selectors.customer_reports(user=world.a_viewer, tracker=tracker)) == [new_report]
    assert LocationReport.objects.filter(tracker=tracker).count() == 2  # still stored


@pytest.fixture
def activated(world):
    """Client A's tracker activated an hour ago, with two reports from before (stored, the
    warehouse) and two after, rolled up."""
    now = timezone.now().replace(microsecond=0)
    tracker = TrackerFactory(production_run=world.run_a, activated_at=now - timedelta(hours=1))
    before = [_report(tracker, now - timedelta(minutes=m), lon=10.0) for m in (180, 65)]
    after = [_report(tracker, now - timedelta(minutes=m), lon=16.37) for m in (40, 10)]
    geofencing.rollup_locations()
    return tracker, before, after, now


def test_customer_reports_start_at_the_activation(world, activated):
    tracker, before, after, _ = activated
    assert LocationReport.objects.filter(tracker=tracker).count() == 4
    one = selectors.customer_reports(user=world.a_viewer, tracker=tracker)
    assert sorted(r.pk for r in one) == sorted(r.pk for r in after)
    every = selectors.customer_reports(user=world.a_viewer).filter(tracker=tracker)
    assert sorted(r.pk for r in every) == sorted(r.pk for r in after)
    assert not selectors.customer_reports(user=world.b_admin).filter(tracker=tracker).exists()
    # A roll-up bucket that began before the activation is left out whole.
    for resolution in ("hourly", "daily"):
        rollups = selectors.customer_rollups(
            user=world.a_viewer, resolution=resolution, tracker=tracker
        )
        assert all(r.first_observed_at >= tracker.activated_at for r in rollups)
        assert all(
            r.first_observed_at >= tracker.activated_at
            for r in selectors.customer_rollups(user=world.a_viewer, resolution=resolution)
        )


def test_never_activated_tracker_shows_no_reports(world):
    tracker = TrackerFactory(production_run=world.run_a, activated_at=None)
    _report(tracker, timezone.now())
    assert not selectors.customer_reports(user=world.staff, tracker=tracker).exists()
    assert not selectors.customer_reports(user=world.staff).filter(tracker=tracker).exists()


def test_api_locations_start_at_the_activation(world, activated):
    tracker, before, after, now = activated
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair(world.a_viewer.username)['access']}")
    url = f"/api/v1/trackers/{tracker.pk}/locations/"
    since = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    raw = api.get(url, {"since": since}).json()["results"]
    assert [row["position"]["longitude"] for row in raw] == [16.37, 16.37]
    geo = api.get(url, {"since": since, "format": "geojson"}).json()
    assert len(geo["features"]) == 2
    for resolution in ("hourly", "daily"):
        rows = api.get(url, {"since": since, "resolution": resolution}).json()["results"]
        assert all(row["position"]["longitude"] == pytest.approx(16.37) for row in rows)


def test_tracker_page_starts_at_the_activation(client, world, activated):
    tracker, before, after, _ = activated
    client.force_login(world.a_viewer)
    for days in ("1", "2", "7", "365"):
        response = client.get(reverse("portal:tracker-history", args=[tracker.pk]), {"days": days})
        assert response.status_code == 200
        tracks = [
            f
            for f in response.context["map_features"]["features"]
            if f["properties"]["kind"] == "track"
        ]
        coordinates = [c for f in tracks for c in f["geometry"]["coordinates"]]
        assert all(lon == pytest.approx(16.37) for lon, _ in coordinates), days
        assert sum(n for f in tracks for n in f["properties"]["reports"]) <= len(after), days


def test_backfill_takes_the_import_audit_time_or_the_runs_start(world):
    backfill = importlib.import_module("tracking.migrations.0014_tracker_activated_at").BACKFILL
    now = timezone.now()
    audited, unaudited, stale, stock = (
        TrackerFactory(production_run=world.run_a, activated_at=None),
        TrackerFactory(production_run=world.run_a, activated_at=None),
        TrackerFactory(production_run=world.run_a, activated_at=None),
        TrackerFactory(activated_at=None),
    )
    imported_at = now - timedelta(hours=3)
    for at, run in ((now - timedelta(days=40), world.run_b), (imported_at, world.run_a)):
        AuditEvent.objects.create(
            action="trackers.import",
            at=at,
            target=str(run),
            details={"production_run": run.pk, "macs": [audited.mac_address, stale.mac_address]},
        )
    Tracker.objects.filter(pk=stale.pk).update(
        last_report_at=now - timedelta(hours=4), last_point=Point(1, 2, srid=4326)
    )
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    for tracker in (audited, unaudited, stale, stock):
        tracker.refresh_from_db()
    assert audited.activated_at == imported_at
    assert unaudited.activated_at == world.run_a.starts_at
    assert stock.activated_at is None
    assert (stale.activated_at, stale.last_point, stale.last_report_at) == (imported_at, None, None)


def test_status_changes_before_the_activation_are_not_shown(client, world, activated):
    tracker, _, _, now = activated
    for at, to_status in ((now - timedelta(hours=3), "DELIVERED"),
                          (now - timedelta(minutes=30), "IN_TRANSIT")):  # fmt: skip
        StatusHistory.objects.create(
            tracker=tracker, from_status="UNKNOWN", to_status=to_status, at=at
        )
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:tracker-history", args=[tracker.pk]), {"days": "1"})
    assert [e.status for e in response.context["history"].timeline] == ["IN_TRANSIT"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair(world.a_viewer.username)['access']}")
    rows = api.get(f"/api/v1/trackers/{tracker.pk}/status-history/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [row["to_status"] for row in rows] == ["IN_TRANSIT"]

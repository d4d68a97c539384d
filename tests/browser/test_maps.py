"""Maps where staff work, in Chromium: a tracker's track and a run's trackers and places.
No tile is loaded (the network is closed): everything asserted is a drawn vector."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import expect

from geofencing import services as geo_services
from geofencing.models import Place
from tests.factories import TrackerFactory
from tracking.models import LocationReport, Tracker

pytestmark = pytest.mark.django_db(transaction=True)

VIENNA = (16.3725, 48.2082)


def _journey(tracker, points: int = 6) -> None:
    now = timezone.now()
    for i in range(points):
        LocationReport.objects.create(
            tracker=tracker,
            observed_at=now - timedelta(hours=points - i),
            point=Point(VIENNA[0] + 0.01 * i, VIENNA[1] + 0.004 * i, srid=4326),
            horizontal_accuracy=35,
            confidence=2,
            status_byte=0,
            payload_hash=hashlib.sha256(f"{tracker.pk}-{i}".encode()).digest(),
        )
    last = Point(VIENNA[0] + 0.01 * (points - 1), VIENNA[1] + 0.004 * (points - 1), srid=4326)
    Tracker.objects.filter(pk=tracker.pk).update(
        last_point=last,
        last_accuracy_m=35,
        last_report_at=now - timedelta(hours=1),
        status=Tracker.Status.IN_TRANSIT,
        nearest_city="Vienna",
    )


def _places(run):
    geo_services.place_create(
        client=run.brand.client, kind=Place.Kind.STORAGE, name="Depot Simmering",
        point=Point(VIENNA[0] + 0.05, VIENNA[1] - 0.01, srid=4326), radius_m=400,
        production_runs=[run],
    )  # fmt: skip
    geo_services.place_create(
        client=run.brand.client, kind=Place.Kind.DELIVERY, name="Shop Mariahilf",
        point=Point(*VIENNA, srid=4326), radius_m=150, production_runs=[run],
    )  # fmt: skip


def test_staff_open_a_trackers_page_and_see_its_track(world, staff_page, screenshot):
    tracker = world.tracker_a
    _journey(tracker)
    _places(world.run_a)
    page, _ = staff_page("support")
    page.goto(f"/admin/tracking/tracker/{tracker.pk}/change/")

    tracker_map = page.locator("#tracker-map")
    expect(tracker_map).to_have_attribute("data-ready", "true")
    expect(tracker_map).to_have_attribute("data-tracks", "1")
    expect(tracker_map).to_have_attribute("data-places", "2")
    expect(tracker_map.locator("path.map-track")).to_have_count(1)
    expect(tracker_map.locator("path.map-track-point")).to_have_count(6)
    expect(tracker_map.locator("path.map-accuracy")).to_have_count(1)
    expect(tracker_map.locator("path.map-status-in_transit")).to_have_count(1)
    expect(page.locator("#tracker-track")).to_contain_text("6 points (raw reports)")
    expect(page.locator(".object-tools")).to_contain_text("Status history")
    expect(page.locator(".object-tools")).to_contain_text("Customer's view")
    # Derived fields are text, not inputs; only the label is editable.
    assert page.locator("input[name=label]").count() == 1
    assert page.locator("[name=status], [name=last_point], [name=status_watermark]").count() == 0
    screenshot(page, "tracker-page")

    page.click("#tracker-track a:text('30 d')")
    # Six reports are well under the point budget: a longer range still draws every one.
    expect(page.locator("#tracker-track")).to_contain_text("6 points (raw reports)")
    expect(page.locator("#tracker-track strong")).to_have_text("30 d")
    expect(page.locator("#tracker-map")).to_have_attribute("data-ready", "true")


def test_staff_open_a_runs_page_and_see_its_trackers_by_status(world, staff_page, screenshot):
    _journey(world.tracker_a)
    other = TrackerFactory(production_run=world.run_a)
    Tracker.objects.filter(pk=other.pk).update(
        last_point=Point(VIENNA[0] + 0.05, VIENNA[1] - 0.01, srid=4326),
        last_report_at=timezone.now(),
        status=Tracker.Status.IN_STORAGE,
    )
    TrackerFactory(production_run=world.run_a)  # never reported: listed, not mapped
    _places(world.run_a)
    page, _ = staff_page("viewer")
    page.goto(f"/admin/tracking/productionrun/{world.run_a.pk}/change/")

    run_map = page.locator("#run-map")
    expect(run_map).to_have_attribute("data-ready", "true")
    expect(run_map).to_have_attribute("data-trackers", "2")
    expect(run_map).to_have_attribute("data-places", "2")
    expect(run_map.locator("path.map-status-in_storage")).to_have_count(1)
    expect(run_map.locator("path.map-status-in_transit")).to_have_count(1)
    expect(run_map.locator("path.map-place-delivery")).to_have_count(1)
    counts = page.locator("#run-status-counts")
    expect(counts.locator(".status-in_storage .n")).to_have_text("1")
    expect(counts.locator(".status-unknown .n")).to_have_text("1")
    expect(page.locator("#run-tracker-list tbody tr")).to_have_count(3)
    screenshot(page, "run-page")

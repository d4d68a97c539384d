"""A tracker's page in Chromium: the path with a point per report, the last position's
accuracy circle, "last seen" as an age, the timeline, presets and a custom range in the
person's timezone, a refused range, and a phone's width."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from geofencing import services as geo_services
from geofencing.models import Place
from tests.factories import TrackerFactory
from tests.geofencing.conftest import reports_every
from tracking.models import LocationReport, Tracker
from tracking.services import profile_timezone_set

pytestmark = pytest.mark.django_db(transaction=True)

VIENNA = ZoneInfo("Europe/Vienna")


def _tracker_with_a_journey(world):
    """Three days of a report every 20 minutes from a depot (east) to a shop (west), the
    newest 5 minutes ago; the status engine has run over them."""
    now = timezone.now().replace(microsecond=0)
    tracker = TrackerFactory(production_run=world.run_a, label="Pallet 7")
    newest = now - timedelta(minutes=5)
    reports_every(tracker, minutes=20, days=3, end=newest, lon=16.30, lat=48.20)
    for kind, name, lon in ((Place.Kind.DELIVERY, "Shop Mariahilf", 16.30),
                            (Place.Kind.STORAGE, "Depot Simmering", 16.3215)):  # fmt: skip
        geo_services.place_create(
            client=world.client_a, kind=kind, name=name, point=Point(lon, 48.20, srid=4326),
            radius_m=300, production_runs=[world.run_a],
        )  # fmt: skip
    geo_services.evaluate_statuses()
    Tracker.objects.filter(pk=tracker.pk).update(
        last_point=Point(16.30, 48.20, srid=4326),
        last_report_at=newest,
        last_accuracy_m=150,
        nearest_city="Vienna",
        nearest_country_code="AT",
    )
    return tracker, now


def _reports_between(tracker, start, end) -> int:
    return LocationReport.objects.filter(tracker=tracker, observed_at__range=(start, end)).count()


def test_tracker_page_draws_every_report_and_a_custom_range(page_for, world, screenshot):
    tracker, now = _tracker_with_a_journey(world)
    profile_timezone_set(user=world.a_viewer, timezone_name="Europe/Vienna")
    page = page_for(world.a_viewer)
    page.goto(reverse("portal:tracker-history", args=[tracker.pk]) + "?days=2")

    history_map = page.locator("#history-map")
    expect(history_map).to_have_attribute("data-ready", "true")
    in_two_days = _reports_between(tracker, now - timedelta(days=2), now)
    assert in_two_days == 144
    expect(history_map).to_have_attribute("data-track-points", str(in_two_days))
    expect(page.locator(".range-summary")).to_have_attribute("data-points", str(in_two_days))
    expect(history_map).to_have_attribute("data-places", "2")
    expect(history_map.locator("path.map-accuracy")).to_have_count(1)  # the last position's
    expect(history_map.locator("path.map-tracker")).to_have_count(1)

    last_seen = page.locator(".last-seen")
    expect(last_seen).to_have_text("5 min ago")
    exact = (now - timedelta(minutes=5)).astimezone(VIENNA).strftime("%Y-%m-%d %H:%M CET")
    expect(last_seen).to_have_attribute("title", exact)
    expect(page.locator(".tracker-city")).to_have_text("Vienna, AT")

    timeline = page.locator(".timeline-entry")
    expect(timeline.first).to_contain_text("Delivered")
    expect(timeline.first).to_contain_text("at Shop Mariahilf")
    expect(timeline.first).to_contain_text("so far")
    expect(page.locator(".timeline")).to_contain_text("left Depot Simmering")
    screenshot(page, "portal-tracker-page")

    # A custom range: six hours, a day ago, typed in Vienna's time.
    start = (now - timedelta(days=1)).astimezone(VIENNA).replace(second=0, tzinfo=None)
    end = start + timedelta(hours=6)
    page.fill("input[name=start]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=end]", end.strftime("%Y-%m-%dT%H:%M"))
    page.click(".range-custom button")
    expect(page.locator(".range-presets strong")).to_have_count(0)
    in_six_hours = _reports_between(
        tracker, start.replace(tzinfo=VIENNA), end.replace(tzinfo=VIENNA)
    )
    assert in_six_hours == 18
    expect(history_map).to_have_attribute("data-ready", "true")
    expect(history_map).to_have_attribute("data-track-points", str(in_six_hours))
    expect(page.locator("input[name=start]")).to_have_value(start.strftime("%Y-%m-%dT%H:%M"))

    # The longest preset holds all three days: still every report, under the budget.
    page.click(".range-presets a:text-is('365 d')")
    expect(history_map).to_have_attribute("data-track-points", "216")

    page.set_viewport_size({"width": 375, "height": 900})
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # Dark mode: the timeline's cards take the dark surface, their text the light ink.
    page.emulate_media(color_scheme="dark")
    entry = page.locator(".timeline-entry").first
    expect(entry).to_have_css("background-color", "rgb(27, 35, 43)")
    expect(entry).to_have_css("color", "rgb(230, 237, 243)")
    screenshot(page, "portal-tracker-page-dark")


def test_a_refused_range_names_the_field_and_keeps_the_page(page_for, world, screenshot):
    tracker, now = _tracker_with_a_journey(world)
    page = page_for(world.a_viewer)
    response = page.goto(
        reverse("portal:tracker-history", args=[tracker.pk])
        + "?start=2026-11-02T10:00&end=2026-11-01T10:00"
    )
    assert response.status == 400
    expect(page.locator(".form-error")).to_contain_text("end: 2026-11-01 10:00")
    expect(page.locator(".form-error")).to_contain_text("is not after the start")
    expect(page.locator("input[name=end]")).to_have_value("2026-11-01T10:00")
    expect(page.locator("#history-map")).to_have_attribute("data-ready", "true")
    screenshot(page, "portal-tracker-page-refused-range")
    page.set_viewport_size({"width": 375, "height": 900})
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

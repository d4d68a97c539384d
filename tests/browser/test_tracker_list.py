"""The tracker list in the browser: a customer logs in and sees their own trackers only, filters and
sorts them, changes a label, opens a tracker and downloads its history as CSV (the rows of
the range the page shows); on a phone the table turns into cards and the page does not
scroll sideways."""

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import TrackerFactory
from tracking.models import LocationReport, Tracker

pytestmark = pytest.mark.django_db(transaction=True)


def _locate(tracker, *, label, status, city, minutes, lon, lat):
    Tracker.objects.filter(pk=tracker.pk).update(
        label=label,
        status=status,
        nearest_city=city,
        nearest_country_code="AT",
        last_point=Point(lon, lat, srid=4326),
        last_report_at=timezone.now() - timedelta(minutes=minutes),
    )


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert width <= 0, f"the page scrolls {width}px sideways"


@pytest.fixture
def fleet(world):
    _locate(world.tracker_a, label="Pallet north", status="IN_TRANSIT", city="Vienna",
            minutes=12, lon=16.37, lat=48.21)  # fmt: skip
    world.tracker_a2 = TrackerFactory(production_run=world.run_a)
    _locate(world.tracker_a2, label="Crate with a rather long label for a phone screen",
            status="DELIVERED", city="Graz", minutes=300, lon=15.44, lat=47.07)  # fmt: skip
    _locate(world.tracker_b, label="Bravo secret pallet", status="IN_TRANSIT", city="Vienna",
            minutes=1, lon=16.4, lat=48.2)  # fmt: skip
    now = timezone.now()
    for n, (days, lon, lat) in enumerate([(9, 10.0, 50.0), (3, -70.6693, -33.4489),
                                          (1, 16.37, 48.21)]):  # fmt: skip
        LocationReport.objects.create(
            tracker=world.tracker_a, observed_at=now - timedelta(days=days),
            point=Point(lon, lat, srid=4326), horizontal_accuracy=20, confidence=2,
            status_byte=0, payload_hash=bytes([n]) * 32,
        )  # fmt: skip
    return world


def test_customer_filters_the_list_and_relabels_a_tracker(fleet, new_page, screenshot):
    w = fleet
    page = new_page()
    page.goto("/")  # the login form first
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.fill("#id_username", w.a_admin.username)
    page.fill("#id_password", "pass-for-tests")  # tests/factories.py
    page.locator("form button[type=submit]").first.click()
    expect(page.locator("h1")).to_have_text("Dashboard")
    page.get_by_role("link", name="Trackers", exact=True).click()
    rows = page.locator("#trackers tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("#trackers")).not_to_contain_text("Bravo")
    expect(page.locator("#trackers")).not_to_contain_text(w.tracker_b.mac_address)
    north = page.locator(f'#trackers tr[data-tracker="{w.tracker_a.pk}"]')
    seen = north.locator(".last-seen time")
    expect(seen).to_have_text("12 min ago")
    assert " UTC" in seen.get_attribute("title")
    screenshot(page, "tracker-list")

    page.fill("#id_city", "Vienna")
    page.click("#tracker-filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(north).to_be_visible()
    expect(page.locator("#tracker-count")).to_have_text("1 tracker")

    row = rows.first
    row.locator(".label-form input[name=label]").fill("Pallet north, dock 3")
    row.locator(".label-form button").click()
    expect(page.locator(".message.success")).to_contain_text("Pallet north, dock 3")
    assert "city=Vienna" in page.url  # back to the filtered list
    expect(rows).to_have_count(1)
    assert Tracker.objects.get(pk=w.tracker_a.pk).label == "Pallet north, dock 3"

    # Open the tracker and download its history of the last week.
    north.locator("a code.mac").click()
    expect(page.locator("h1")).to_contain_text(w.tracker_a.mac_address)
    page.click("text=7 d")
    with page.expect_download() as download_info:
        page.click("#export-csv")
    download = download_info.value
    mac = w.tracker_a.mac_address.replace(":", "")
    assert re.fullmatch(rf"tracker-{mac}-\d{{8}}-\d{{8}}\.csv", download.suggested_filename)
    lines = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert [(r["latitude"], r["longitude"]) for r in lines] == [
        ("-33.4489", "-70.6693"), ("48.21", "16.37")
    ]  # oldest first; the report of 9 days ago is outside the week  # fmt: skip
    assert all(r["observed_at"].endswith("+00:00") for r in lines)
    screenshot(page, "tracker-history-exports")

    page.go_back()
    page.go_back()
    page.click("#clear-filters")
    page.locator("th a.sort-seen").click()  # oldest report first
    expect(rows.first).to_have_attribute("data-tracker", str(w.tracker_a2.pk))
    page.locator("th a.sort-seen").click()  # and back
    expect(rows.first).to_have_attribute("data-tracker", str(w.tracker_a.pk))
    assert "sort=-seen" in page.url


def test_list_on_a_phone_is_cards_without_sideways_scroll(fleet, page_for, screenshot):
    page = page_for(fleet.a_admin)
    page.set_viewport_size({"width": 375, "height": 900})
    page.goto("/trackers/")
    expect(page.locator("#trackers tbody tr")).to_have_count(2)
    expect(page.locator("#trackers thead")).to_be_hidden()
    _no_horizontal_scroll(page)
    screenshot(page, "tracker-list-phone")
    page.emulate_media(color_scheme="dark")
    expect(page.locator("body")).to_have_css("background-color", "rgb(18, 24, 30)")
    screenshot(page, "tracker-list-dark")
    viewer = page_for(fleet.a_viewer)
    viewer.set_viewport_size({"width": 375, "height": 900})
    viewer.goto("/trackers/")
    expect(viewer.locator(".label-form")).to_have_count(0)
    _no_horizontal_scroll(viewer)
    screenshot(viewer, "tracker-list-viewer")

"""A person's account in the browser: they choose a timezone, and the pages' times and the
map's popups follow it; the pages fit a phone."""

from datetime import UTC, datetime

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import expect

from tracking.models import Tracker

pytestmark = pytest.mark.django_db(transaction=True)

SEEN = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _no_horizontal_scroll(page) -> None:
    page.set_viewport_size({"width": 375, "height": 900})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1400, "height": 900})
    assert width <= 375, width


def test_person_chooses_a_timezone_and_times_and_popups_follow(page_for, world, screenshot):
    Tracker.objects.filter(pk=world.tracker_a.pk).update(
        last_point=Point(16.37, 48.21, srid=4326),
        last_report_at=SEEN,
        status_changed_at=SEEN,
        status=Tracker.Status.IN_TRANSIT,
    )
    page = page_for(world.a_admin)
    page.goto("/account/")
    expect(page.locator("#current-time")).to_contain_text("UTC")
    page.select_option("#id_timezone_name", "America/Los_Angeles")
    page.click("#timezone-form button[type=submit]")
    expect(page.locator(".message")).to_contain_text("America/Los_Angeles")
    expect(page.locator("#current-time")).to_contain_text("America/Los_Angeles")
    _no_horizontal_scroll(page)
    screenshot(page, "account")

    page.goto(f"/trackers/{world.tracker_a.pk}/history/")
    expect(page.locator("main")).to_contain_text("since 2026-01-15 04:00 PST")
    page.locator("#history-map .map-tracker").last.click()
    expect(page.locator(".leaflet-popup-content")).to_contain_text("2026-01-15 04:00 PST")


def test_password_pages_fit_a_phone(page_for, new_page, world, screenshot, rate_limits_cleared):
    page = page_for(world.a_viewer)
    page.goto("/account/")
    page.click("#change-password")
    expect(page.locator("h1")).to_have_text("Change your password")
    _no_horizontal_scroll(page)
    screenshot(page, "password-change")

    visitor = new_page()
    visitor.goto("/accounts/login/")
    visitor.click("#forgot-password")
    visitor.fill("#id_email", world.a_viewer.email)
    visitor.click("#password-reset-form button[type=submit]")
    expect(visitor.locator("#password-reset-sent")).to_be_visible()
    _no_horizontal_scroll(visitor)
    screenshot(visitor, "password-reset-sent")

"""The Content-Security-Policy is real: maps and charts run under it, an injected script does not.

Every browser test fails on a CSP console error (tests/browser/conftest.py); these open the
pages with inline map set-up, where a missing nonce would show.
"""

import re

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests.factories import TrackerFactory
from tracking.models import Tracker

pytestmark = pytest.mark.django_db(transaction=True)

VIENNA = Point(16.3725, 48.2082, srid=4326)


def _policy(response) -> dict[str, str]:
    header = response.headers["content-security-policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";") if part.strip())


def test_portal_maps_draw_under_a_nonce_policy(page_for, world):
    tracker = TrackerFactory(
        production_run=world.run_a,
        lifecycle_state=Tracker.Lifecycle.ACTIVE,
        last_point=VIENNA,
        last_report_at=timezone.now(),
    )
    page = page_for(world.a_viewer)
    response = page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))
    policy = _policy(response)
    assert re.fullmatch(r"'self' 'nonce-[A-Za-z0-9+/=_-]{16,}'", policy["script-src"])
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["object-src"] == "'none'"
    expect(page.locator("#run-map .map-tracker-dot")).to_have_count(1)

    page.goto(reverse("portal:tracker-history", args=[tracker.pk]))
    expect(page.locator("#history-map.leaflet-container")).to_be_visible()


def test_an_injected_inline_script_is_blocked(page_for, world):
    page = page_for(world.a_viewer)
    page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))
    blocked = []
    page.on("console", lambda message: blocked.append(message.text))
    ran = page.evaluate(
        """() => {
            window.injected = false;
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
            return window.injected;
        }"""
    )
    assert ran is False
    assert any("Content Security Policy" in text for text in blocked)
    page.js_errors.clear()  # the refusal above is the point of this test


def test_admin_charts_and_map_widgets_run_under_the_policy(staff_page):
    page, _ = staff_page("operations")
    response = page.goto("/admin/")
    assert "'unsafe-inline'" not in _policy(response)["script-src"]
    expect(page.locator("#chart-requests")).to_be_visible()
    assert page.evaluate("() => !!Chart.getChart(document.getElementById('chart-requests'))")

    response = page.goto(reverse("admin:geofencing_place_add"))
    assert "'nonce-" in _policy(response)["script-src"]  # the Leaflet widget's inline set-up
    expect(page.locator(".leaflet-container").first).to_be_visible()
    expect(page.locator(".leaflet-control-zoom").first).to_be_visible()  # the map initialised


def test_swagger_ui_and_redoc_work_offline_under_the_policy(page_for, world):
    page = page_for(world.a_admin)
    response = page.goto("/api/v1/docs/")
    assert "'unsafe-inline'" not in _policy(response)["script-src"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("API")
    expect(page.locator(".opblock-tag").first).to_be_visible()  # operations drawn from the schema

    page.goto("/api/v1/redoc/")
    expect(page.locator("h1").first).to_contain_text("API")
    expect(page.get_by_text("trackers", exact=False).first).to_be_visible()

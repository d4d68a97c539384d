"""The customer's dashboard in Chromium: the clustered map of their own trackers, its legend,
text that stays text in popups, and no horizontal scroll on a phone."""

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from playwright.sync_api import expect

from tests.portal.bulk import trackers_bulk
from tracking.models import Tracker

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = "<img src=x onerror=alert(1)>"


def _markers_shown(page) -> int:
    """Trackers on the map: single markers plus the numbers on the cluster icons."""
    return page.evaluate(
        """() => {
            const map = document.getElementById("dashboard-map");
            const single = map.querySelectorAll(".map-tracker-dot").length;
            const grouped = [...map.querySelectorAll(".marker-cluster span")]
                .reduce((sum, span) => sum + parseInt(span.textContent, 10), 0);
            return single + grouped;
        }"""
    )


def test_dashboard_clusters_only_the_users_trackers_with_a_legend(page_for, world, screenshot):
    trackers_bulk(world.run_a, 40)
    trackers_bulk(world.run_b, 7, lon=2.35, lat=48.85)
    page = page_for(world.a_viewer)
    page.goto(reverse("portal:dashboard"))

    dashboard_map = page.locator("#dashboard-map")
    expect(dashboard_map).to_have_attribute("data-ready", "true")
    expect(dashboard_map).to_have_attribute("data-trackers", "40")
    expect(dashboard_map.locator(".marker-cluster").first).to_be_visible()
    page.wait_for_timeout(800)  # the zoom animation ends (it shows old and new icons at once)
    assert _markers_shown(page) == 40
    legend = page.locator(".map-legend")
    for text in ("Delivered", "In storage", "In transit", "Unknown", "Group of trackers"):
        expect(legend).to_contain_text(text)
    expect(page.locator("#status-total .total")).to_have_text("41")  # + world.tracker_a
    expect(page.locator("#recent-changes tbody tr")).to_have_count(40)
    expect(page.locator("#silent tbody tr")).to_have_count(14)  # every third: silent 2 days
    expect(page.locator("#silent form")).to_have_count(0)  # a viewer: no threshold form
    screenshot(page, "portal-dashboard")
    page.emulate_media(color_scheme="dark")
    screenshot(page, "portal-dashboard-dark")

    # Zooming into a cluster shows its trackers as single dots coloured by status.
    dashboard_map.locator(".marker-cluster").first.click()
    page.wait_for_timeout(600)
    expect(dashboard_map.locator(".map-tracker-dot").first).to_be_visible()


def test_dashboard_popups_show_hostile_labels_as_text(page_for, world):
    trackers_bulk(world.run_a, 1)
    Tracker.objects.filter(production_run=world.run_a, last_point__isnull=False).update(
        label=HOSTILE, last_point=Point(16.37, 48.2, srid=4326)
    )
    dialogs = []
    page = page_for(world.a_admin)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(reverse("portal:dashboard"))
    dashboard_map = page.locator("#dashboard-map")
    expect(dashboard_map).to_have_attribute("data-ready", "true")
    marker = dashboard_map.locator(".map-tracker-dot")
    expect(marker).to_have_attribute("title", f"{HOSTILE} · Unknown")
    marker.click()
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(HOSTILE)
    assert popup.locator("img").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
    expect(page.locator("#silent form")).to_have_count(1)  # an admin: the threshold form


def test_dashboard_has_no_horizontal_scroll_on_a_phone(page_for, world):
    trackers_bulk(world.run_a, 12)
    page = page_for(world.a_admin)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(reverse("portal:dashboard"))
    expect(page.locator("#dashboard-map")).to_have_attribute("data-ready", "true")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0

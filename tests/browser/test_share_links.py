"""Share links in the browser: a client admin makes a link to one tracker, a visitor without
an account opens it and sees that tracker on the map (no MAC anywhere), the admin revokes it
and the link is gone."""

import time
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.utils import timezone
from playwright.sync_api import expect

from geofencing import services as geo_services
from geofencing.models import Place
from tests.factories import TrackerFactory
from tracking.models import ShareLink, Tracker

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("rate_limits_cleared"),
]


def _locate(tracker, lon, lat, **fields):
    Tracker.objects.filter(pk=tracker.pk).update(
        last_point=Point(lon, lat, srid=4326),
        last_accuracy_m=40,
        last_report_at=timezone.now() - timedelta(minutes=12),
        status=Tracker.Status.IN_TRANSIT,
        status_changed_at=timezone.now() - timedelta(hours=3),
        nearest_city="Vienna",
        nearest_country_code="AT",
        **fields,
    )


def _fits(page) -> None:
    """No horizontal scroll once the page has been laid out at its new width: a resize is
    applied asynchronously, so this looks again for up to 3 s before it fails."""
    deadline = time.monotonic() + 3
    while not page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"):
        assert time.monotonic() < deadline, page.evaluate("document.documentElement.scrollWidth")
        page.wait_for_timeout(100)


def test_admin_shares_a_tracker_the_visitor_sees_it_then_revoked_404(
    world, page_for, new_page, screenshot
):
    Tracker.objects.filter(pk=world.tracker_a.pk).update(label="Pallet 7")
    _locate(world.tracker_a, 16.3725, 48.2082)
    sibling = TrackerFactory(production_run=world.run_a, label="Pallet 8")
    _locate(sibling, 16.40, 48.19)
    geo_services.place_create(
        client=world.client_a, kind=Place.Kind.DELIVERY, name="Shop Mariahilf",
        point=Point(16.35, 48.20, srid=4326), radius_m=300, production_runs=[world.run_a],
    )  # fmt: skip
    macs = [t.mac_address for t in Tracker.objects.filter(client=world.client_a)]

    admin = page_for(world.a_admin)
    admin.goto(f"/trackers/{world.tracker_a.pk}/history/")
    admin.click("a.share-link")
    expect(admin.locator("#id_target")).to_have_value(f"tracker:{world.tracker_a.pk}")
    admin.select_option("#id_ends", "7")
    admin.fill("#id_label", "Receiver Graz")
    admin.click("#new-share-link button[type=submit]")
    url = admin.locator("#issued-url").input_value()
    assert "/s/" in url
    token = url.rstrip("/").rsplit("/", 1)[1]
    screenshot(admin, "share-links-new")

    visitor = new_page()  # a fresh context: no session
    response = visitor.goto(url)
    assert response.status == 200
    assert response.headers["referrer-policy"] == "no-referrer"
    share_map = visitor.locator("#share-map")
    expect(share_map).to_have_attribute("data-ready", "true")
    expect(share_map).to_have_attribute("data-trackers", "1")
    expect(share_map).to_have_attribute("data-places", "1")
    expect(visitor.locator("#share-trackers tbody tr")).to_have_count(1)
    expect(visitor.locator("#share-trackers")).to_contain_text("Pallet 7")
    expect(visitor.locator("#share-trackers .last-seen")).to_contain_text("12 minutes ago")
    expect(visitor.locator("#share-brand")).to_contain_text(world.run_a.brand.name)
    expect(visitor.locator("#share-summary")).to_contain_text("In transit")
    screenshot(visitor, "share-page")
    marker = visitor.locator("#share-map path.map-tracker")
    expect(marker).not_to_have_attribute("d", "M0 0")  # drawn once the map has its size
    marker.click()  # the popup names the label only
    expect(visitor.locator(".leaflet-popup-content")).to_contain_text("Pallet 7")
    html = visitor.content().lower()
    for mac in macs:
        bare = mac.replace(":", "").lower()
        for spelling in (mac.lower(), mac.replace(":", "-").lower(), bare):
            assert spelling not in html
    assert "pallet 8" not in html
    assert visitor.locator("body").evaluate("b => b.scrollWidth <= window.innerWidth")
    visitor.set_viewport_size({"width": 375, "height": 900})
    _fits(visitor)

    admin.goto("/shares/")
    row = admin.locator("#share-links tbody tr", has_text="Receiver Graz")
    expect(row.locator(".views")).to_have_text("1")
    assert token not in admin.content()
    row.locator("button", has_text="Revoke").click()
    expect(admin.locator(".message")).to_contain_text("revoked")
    expect(admin.locator("#share-links tbody tr", has_text="Receiver Graz")).to_contain_text(
        "Revoked"
    )
    admin.set_viewport_size({"width": 375, "height": 900})
    _fits(admin)
    screenshot(admin, "share-links")
    assert ShareLink.objects.get().revoked_at is not None

    gone = new_page()
    assert gone.goto(url).status == 404
    expect(gone.locator("#share-map")).to_have_count(0)


def test_viewer_sees_links_without_forms(world, page_for):

    from tracking import services

    services.share_link_create(user=world.a_admin, client=world.client_a,
                               production_run=world.run_a,
                               expires_at=timezone.now() + timedelta(days=2),
                               label="Carrier")  # fmt: skip
    page = page_for(world.a_viewer)
    page.goto("/shares/")
    expect(page.locator("#share-links tbody tr", has_text="Carrier")).to_contain_text("Active")
    expect(page.locator("#not-admin")).to_be_visible()
    assert page.locator("#new-share-link, #share-links button").count() == 0

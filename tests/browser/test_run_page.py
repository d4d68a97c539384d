"""A production run's page in Chromium: progress, its places on the clustered map, the
trackers' table a page at a time, the map refreshing itself from its endpoint, hostile names
as text, a phone's width and dark mode."""

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.urls import reverse
from playwright.sync_api import expect

from geofencing import services as geo_services
from geofencing.models import Place
from tests.portal.bulk import trackers_bulk
from tracking.models import Tracker

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = "<img src=x onerror=alert(1)>"


def _places(run, *, delivery_name: str = "Shop Mariahilf") -> None:
    geo_services.place_create(
        client=run.brand.client, kind=Place.Kind.DELIVERY, name=delivery_name,
        point=Point(16.36, 48.2, srid=4326), radius_m=300, production_runs=[run],
    )  # fmt: skip
    square = Polygon(((16.4, 48.19), (16.43, 48.19), (16.43, 48.21), (16.4, 48.21), (16.4, 48.19)))
    geo_services.place_create(
        client=run.brand.client, kind=Place.Kind.STORAGE, name="Depot Simmering",
        point=Point(16.415, 48.2, srid=4326), polygon=square, production_runs=[run],
    )  # fmt: skip


def _marker_position(page, tracker_id: int) -> list[float] | None:
    return page.evaluate(
        """(id) => {
            const state = document.getElementById("run-map").trackerMap;
            const marker = state.drawn.trackers.getLayers().find((m) => m.trackerId === id);
            return marker ? [marker.getLatLng().lat, marker.getLatLng().lng] : null;
        }""",
        tracker_id,
    )


def test_run_page_shows_progress_places_and_a_page_of_trackers(page_for, world, screenshot):
    _places(world.run_a)
    trackers_bulk(world.run_a, 119)  # + world.tracker_a (never reported): 120
    trackers_bulk(world.run_b, 5)
    page = page_for(world.a_viewer)
    page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))

    counts = page.locator("#run-progress .progress-counts")
    expected = {s: world.run_a.trackers.filter(status=s).count() for s in Tracker.Status.values}
    assert sum(expected.values()) == 120 and expected["UNKNOWN"] > 0
    for status, n in expected.items():
        expect(counts.locator(f".status-{status.lower()} .n")).to_have_text(str(n))
    expect(counts.locator(".progress-total .n")).to_have_text("120")
    bar = page.locator("#run-progress .progress .progress-part")
    expect(bar).to_have_count(4)
    widths = bar.evaluate_all("(parts) => parts.map((p) => p.getBoundingClientRect().width)")
    whole = page.locator("#run-progress .progress").bounding_box()["width"]
    in_order = [expected[s] for s in ("DELIVERED", "IN_STORAGE", "IN_TRANSIT", "UNKNOWN")]
    for width, n in zip(widths, in_order, strict=True):
        assert abs(width - whole * n / 120) < 2  # each part its share of the bar

    run_map = page.locator("#run-map")
    expect(run_map).to_have_attribute("data-ready", "true")
    expect(run_map).to_have_attribute("data-places", "2")
    expect(run_map).to_have_attribute("data-trackers", "119")
    expect(run_map.locator("path.map-place-delivery")).to_have_count(1)
    expect(run_map.locator("path.map-place-storage")).to_have_count(1)
    expect(run_map.locator(".marker-cluster").first).to_be_visible()
    expect(page.locator("#run-places li")).to_have_count(2)

    rows = page.locator("#run-trackers tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator(".pager")).to_contain_text("Page 1 of 3")
    screenshot(page, "portal-run-page")

    page.click(".pager a[rel=last]")
    expect(page.locator(".pager")).to_contain_text("Page 3 of 3")
    expect(rows).to_have_count(20)
    page.click("#run-trackers a.sort[data-sort=label]")
    expect(rows).to_have_count(50)
    labels = rows.locator("td:nth-child(2)").all_text_contents()
    assert labels == sorted(labels)
    page.click("#run-trackers a.sort[data-sort=label]")  # again: the other way
    expect(page.locator("#run-trackers a.sort[data-sort=label]")).to_have_class("sort sorted-desc")
    labels = rows.locator("td:nth-child(2)").all_text_contents()
    assert labels == sorted(labels, reverse=True)


def test_run_map_refreshes_itself_when_a_tracker_moves(page_for, world, settings):
    settings.PORTAL_MAP_REFRESH_SECONDS = 1
    (tracker,) = trackers_bulk(world.run_a, 1, lon=16.37, lat=48.2)
    page = page_for(world.a_viewer)
    page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))
    run_map = page.locator("#run-map")
    expect(run_map).to_have_attribute("data-ready", "true")
    expect(page.locator(".map-component")).to_have_attribute("data-refresh-seconds", "1")
    assert _marker_position(page, tracker.pk) == [48.2, 16.37]
    url_before = page.url

    Tracker.objects.filter(pk=tracker.pk).update(last_point=Point(16.39, 48.21, srid=4326))
    trackers_bulk(world.run_a, 1, lon=16.38, lat=48.205)  # a tracker reports for the first time
    expect(run_map).to_have_attribute("data-trackers", "2", timeout=5_000)
    page.wait_for_function(
        """(id) => {
            const state = document.getElementById("run-map").trackerMap;
            const marker = state.drawn.trackers.getLayers().find((m) => m.trackerId === id);
            return marker && marker.getLatLng().lat === 48.21;
        }""",
        arg=tracker.pk,
        timeout=5_000,
    )
    assert _marker_position(page, tracker.pk) == [48.21, 16.39]
    assert int(run_map.get_attribute("data-refreshes")) >= 2  # the first load and one more
    assert run_map.get_attribute("data-refresh-error") is None
    assert page.url == url_before  # no reload


def test_run_map_shows_hostile_place_and_tracker_names_as_text(page_for, world):
    _places(world.run_a, delivery_name=HOSTILE)
    trackers_bulk(world.run_a, 1)
    Tracker.objects.filter(production_run=world.run_a).update(label=HOSTILE)
    dialogs = []
    page = page_for(world.a_admin)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))
    run_map = page.locator("#run-map")
    expect(run_map).to_have_attribute("data-ready", "true")
    page.evaluate(
        """() => document.getElementById("run-map").trackerMap.drawn.layer
            .eachLayer((layer) => layer.openTooltip())"""
    )
    tooltip = run_map.locator(".leaflet-tooltip .map-place-name", has_text="delivery")
    expect(tooltip).to_have_text(f"{HOSTILE} (delivery)")
    run_map.locator(".map-tracker-dot").click()
    popup = run_map.locator(".leaflet-popup-content")
    expect(popup).to_contain_text(HOSTILE)
    expect(page.locator("#run-places")).to_contain_text(HOSTILE)
    expect(page.locator("#run-trackers tbody")).to_contain_text(HOSTILE)
    assert page.locator("main img:not(.leaflet-tile):not(.brand-logo)").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_run_page_fits_a_phone_and_follows_dark_mode(page_for, world, screenshot):
    _places(world.run_a)
    trackers_bulk(world.run_a, 60)
    Tracker.objects.filter(production_run=world.run_a).update(
        label="A long pallet label that would widen the table", nearest_city="Wiener Neustadt"
    )
    page = page_for(world.a_admin)
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))
    expect(page.locator("#run-map")).to_have_attribute("data-ready", "true")
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 24, 30)"  # portal.css's dark --bg
    screenshot(page, "portal-run-page-dark")


def test_run_page_wears_the_brands_logo_and_accent_in_both_modes(
    page_for, world, settings, tmp_path, screenshot
):
    from tests.tracking.test_brand_look import image_upload
    from tracking import services

    settings.MEDIA_ROOT = str(tmp_path / "media")
    brand = world.run_a.brand
    services.brand_save(client=brand.client, name=brand.name, brand=brand,
                        logo=image_upload(colour="#ffeb3b"), accent_colour="#ffeb3b")  # fmt: skip
    _places(world.run_a)
    trackers_bulk(world.run_a, 30)
    page = page_for(world.a_admin)
    page.goto(reverse("portal:run-detail", args=[world.run_a.pk]))
    expect(page.locator("#run-map")).to_have_attribute("data-ready", "true")
    logo = page.locator("#run-header img.brand-logo")
    expect(logo).to_be_visible()
    assert logo.evaluate("(img) => img.complete && img.naturalWidth") == 120  # it was served
    share = page.locator("#run-header .accent-button")
    assert share.evaluate("(a) => getComputedStyle(a).backgroundColor") == "rgb(255, 235, 59)"
    assert share.evaluate("(a) => getComputedStyle(a).color") == "rgb(0, 0, 0)"  # readable
    strip = page.locator("#run-header").evaluate("(h) => getComputedStyle(h).borderLeftColor")
    assert strip == "rgb(255, 235, 59)"
    screenshot(page, "portal-run-page-brand")
    page.emulate_media(color_scheme="dark")
    assert share.evaluate("(a) => getComputedStyle(a).color") == "rgb(0, 0, 0)"
    assert logo.evaluate("(img) => getComputedStyle(img).backgroundColor") == "rgb(255, 255, 255)"
    screenshot(page, "portal-run-page-brand-dark")

"""The portal's places in Chromium: a client admin adds a place by clicking on the map and
dragging its radius, draws a polygon; a viewer sees the places and no edit controls; names
are text; nothing scrolls sideways at 375 px."""

import pytest
from django.contrib.gis.geos import Point
from playwright.sync_api import expect

from geofencing import services
from geofencing.models import Place
from tests.browser.conftest import drag_radius_handle

pytestmark = pytest.mark.django_db(transaction=True)

XSS_NAME = "<img src=x onerror=alert(1)>"


def _place(world, name, lon, lat, **fields):
    return services.place_create(
        client=world.client_a, kind=fields.pop("kind", "STORAGE"), name=name,
        point=Point(lon, lat, srid=4326), production_runs=[world.run_a], **fields,
    )  # fmt: skip


def _no_sideways_scroll(page) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    page.wait_for_timeout(200)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{overflow}px of horizontal scroll at 375 px"
    page.set_viewport_size({"width": 1400, "height": 900})


def test_admin_adds_a_place_by_clicking_on_the_map(world, page_for, screenshot):
    _place(world, "Vienna depot", 16.3565, 48.1478, radius_m=250)
    page = page_for(world.a_admin)
    page.goto("/places/")
    page.click("#new-place")
    editor = page.locator("#place-map")
    expect(editor).to_have_attribute("data-place-editor", "ready")
    expect(editor.locator(".leaflet-draw-draw-polygon")).to_be_visible()
    # Saved without a point (and a radius out of range): the server names what is wrong.
    page.fill("#id_name", "Prater store")
    page.fill("#id_radius_m", "5")
    page.click("#save-place")
    expect(page.locator("#error-latitude")).to_contain_text("Set the point")
    expect(page.locator("#error-radius_m")).to_contain_text("A radius of 5 m is out of range")
    screenshot(page, "place-editor-errors")
    assert not Place.objects.filter(name="Prater store").exists()
    expect(editor).to_have_attribute("data-place-editor", "ready")
    page.fill("#id_radius_m", "100")
    page.select_option("#id_kind", "DELIVERY")
    page.check(f"input[name=production_runs][value='{world.run_a.pk}']")
    # Zoomed out a little from the depot, as a person would before clicking.
    page.evaluate("() => document.getElementById('place-map').placeMap.setView([48.2, 16.37], 13)")

    box = editor.bounding_box()
    x, y = round(box["width"] * 0.6), round(box["height"] * 0.45)
    # The click's position as the map sees it, and how far two pixels go (the tolerance:
    # the box's fractions of a pixel and the container's border).
    expected, two_px = page.evaluate(
        """([x, y]) => {
            const map = document.getElementById('place-map').placeMap;
            const at = map.containerPointToLatLng([x, y]);
            const off = map.containerPointToLatLng([x + 2, y + 2]);
            return [[at.lat, at.lng], [Math.abs(off.lat - at.lat), Math.abs(off.lng - at.lng)]];
        }""",
        [x, y],
    )
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert abs(float(page.input_value("#id_latitude")) - expected[0]) < two_px[0]
    assert abs(float(page.input_value("#id_longitude")) - expected[1]) < two_px[1]
    circle = editor.locator("path.place-radius")
    expect(circle).to_have_count(1)
    width_before = circle.bounding_box()["width"]

    drag_radius_handle(page, editor, dx=90)
    radius = int(page.input_value("#id_radius_m"))
    assert 300 < radius < 50_000
    assert circle.bounding_box()["width"] > width_before * 2
    # Typing the radius moves the circle as well.
    page.fill("#id_radius_m", "120")
    assert circle.bounding_box()["width"] < width_before * 2
    page.fill("#id_radius_m", str(radius))
    # The circle takes the kind's colour (the map component's place colours).
    assert circle.get_attribute("stroke") == "#2e7d32"  # delivery
    page.select_option("#id_kind", "STORAGE")
    assert circle.get_attribute("stroke") == "#ef6c00"
    page.select_option("#id_kind", "DELIVERY")
    screenshot(page, "place-editor-new")
    _no_sideways_scroll(page)

    page.click("#save-place")
    expect(page.locator(".message.success")).to_contain_text("Prater store")
    place = Place.objects.get(name="Prater store")
    assert (place.client, place.kind, place.radius_m) == (world.client_a, "DELIVERY", radius)
    assert abs(place.point.y - expected[0]) < two_px[0]
    assert abs(place.point.x - expected[1]) < two_px[1]
    assert (place.point.y, place.point.x) == (
        float(page.input_value("#id_latitude")),
        float(page.input_value("#id_longitude")),
    )
    assert list(place.production_runs.all()) == [world.run_a]
    # The saved place opens in the editor, circle and all.
    expect(editor).to_have_attribute("data-place-editor", "ready")
    expect(editor.locator("path.place-radius")).to_have_count(1)
    assert page.input_value("#id_radius_m") == str(radius)


def test_admin_draws_a_polygon_that_replaces_the_circle(world, page_for, screenshot):
    place = _place(world, "Vienna depot", 16.3565, 48.1478, radius_m=250)
    page = page_for(world.a_admin)
    page.goto(f"/places/{place.pk}/")
    editor = page.locator("#place-map")
    expect(editor).to_have_attribute("data-place-editor", "ready")
    expect(editor.locator("path.place-radius")).to_have_count(1)
    page.click(".leaflet-draw-draw-polygon")
    box = editor.bounding_box()
    corners = [(0.3, 0.3), (0.7, 0.3), (0.7, 0.7), (0.3, 0.7)]
    for fx, fy in corners:
        page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
        page.wait_for_timeout(50)
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)  # close it
    expect(page.locator("#polygon-state")).to_be_visible()
    expect(editor.locator("path.place-radius")).to_have_count(0)
    assert '"Polygon"' in page.input_value("#id_polygon")
    screenshot(page, "place-editor-polygon")
    page.click("#save-place")
    expect(page.locator(".message.success")).to_be_visible()
    place.refresh_from_db()
    assert place.polygon is not None and len(place.polygon.coords[0]) == 5
    assert place.polygon.contains(place.point)  # its centroid
    expect(editor.locator("path.place-polygon")).to_have_count(1)


def test_viewer_sees_the_places_as_text_and_no_edit_controls(world, page_for, screenshot):
    _place(world, "Vienna depot", 16.3565, 48.1478, radius_m=250,
           address="Laxenburger Str. 365, 1230 Wien")  # fmt: skip
    _place(world, XSS_NAME, 16.3849, 48.2066, kind="DELIVERY")
    page = page_for(world.a_viewer)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto("/places/")
    places_map = page.locator("#places-map")
    expect(places_map).to_have_attribute("data-ready", "true")
    expect(places_map).to_have_attribute("data-places", "2")
    expect(page.locator("#places tbody tr")).to_have_count(2)
    expect(page.locator("#new-place")).to_have_count(0)
    expect(page.locator("#places a[href*='/places/']")).to_have_count(0)
    expect(page.locator(".leaflet-draw")).to_have_count(0)
    # The name is text everywhere: in the table and in the map's tooltips.
    expect(page.locator("#places")).to_contain_text(XSS_NAME)
    page.evaluate(
        """() => document.getElementById('places-map').trackerMap.layer
            .eachLayer((layer) => layer.openTooltip && layer.openTooltip())"""
    )
    expect(page.locator(".leaflet-tooltip")).to_have_count(2)
    expect(page.locator(".leaflet-tooltip", has_text=XSS_NAME)).to_have_count(1)
    expect(page.locator("img[src=x]")).to_have_count(0)
    screenshot(page, "places-viewer")
    _no_sideways_scroll(page)
    assert dialogs == []
    assert page.goto("/places/new/").status == 403


def test_admin_deletes_a_place_after_confirming_in_dark_mode(world, page_for, screenshot):
    place = _place(world, "Vienna depot", 16.3565, 48.1478, radius_m=250)
    _place(world, "Prater store", 16.3849, 48.2066, kind="DELIVERY")
    page = page_for(world.a_admin)
    page.emulate_media(color_scheme="dark")
    page.goto("/places/")
    expect(page.locator("#places-map")).to_have_attribute("data-places", "2")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(18, 24, 30)"  # the dark palette's --bg
    screenshot(page, "places-admin-dark")
    page.click(f"#places tr[data-place='{place.pk}'] a.danger")
    expect(page.locator("h1")).to_contain_text("Delete the place “Vienna depot”?")
    screenshot(page, "place-delete-dark")
    assert Place.objects.filter(pk=place.pk).exists()
    page.click("#delete-place button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text("Vienna depot")
    expect(page.locator("#places tbody tr")).to_have_count(1)
    expect(page.locator("#places-map")).to_have_attribute("data-places", "1")
    assert not Place.objects.filter(pk=place.pk).exists()

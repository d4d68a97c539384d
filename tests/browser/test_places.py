"""Places in Chromium: a storage place made by clicking on the map and dragging its radius."""

import pytest
from playwright.sync_api import expect

from geofencing.models import Place
from tests.browser.conftest import drag_radius_handle
from tests.factories import ProductionRunFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_operations_member_creates_a_storage_place_on_the_map(world, staff_page, screenshot):
    page, _ = staff_page("operations")
    page.goto(f"/admin/geofencing/place/add/?client={world.client_a.pk}")
    page.select_option("#id_kind", "STORAGE")
    page.fill("#id_name", "North depot")
    point_map = page.locator("#id_point-map")
    expect(point_map).to_have_attribute("data-place-form", "ready")
    # Only the place's own client's runs are offered.
    offered = page.locator("#id_production_runs_from option, #id_production_runs option")
    expect(offered.first).to_be_attached()
    assert world.run_b.name not in " ".join(offered.all_inner_texts())

    box = point_map.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert '"Point"' in page.input_value("#id_point")
    circle = point_map.locator("path.place-radius")
    expect(circle).to_have_count(1)
    width_before = circle.bounding_box()["width"]

    drag_radius_handle(page, point_map, dx=120)
    radius = int(page.input_value("#id_radius_m"))
    assert radius > 300
    assert circle.bounding_box()["width"] > width_before * 2

    page.fill("#id_radius_m", "150")
    page.dispatch_event("#id_radius_m", "input")
    assert circle.bounding_box()["width"] < width_before * 2
    page.fill("#id_radius_m", str(radius))
    page.dispatch_event("#id_radius_m", "input")
    screenshot(page, "place-add")

    page.click("input[name=_save]")
    expect(page.locator(".messagelist .success")).to_contain_text("North depot")
    place = Place.objects.get(name="North depot")
    assert (place.client, place.kind, place.radius_m) == (world.client_a, "STORAGE", radius)
    assert abs(place.point.y - 48.2) < 0.05 and abs(place.point.x - 16.37) < 0.1


def test_a_places_page_opens_at_the_place_and_offers_its_clients_runs(world, staff_page):
    from django.contrib.gis.geos import Point

    from geofencing import services

    ProductionRunFactory(client=world.client_b, name="Bravo winter run")
    place = services.place_create(
        client=world.client_a, kind="DELIVERY", name="Shop", radius_m=200,
        point=Point(16.37, 48.2, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip
    page, _ = staff_page("support")
    page.goto(f"/admin/geofencing/place/{place.pk}/change/")
    expect(page.locator("#id_point-map")).to_have_attribute("data-place-form", "ready")
    zoom = page.evaluate("() => document.getElementById('id_point-map').placeMap.getZoom()")
    assert zoom >= 14  # the place, not the 300 km default view
    expect(page.locator("#id_point-map path.place-radius")).to_have_count(1)
    page_text = page.locator("#id_production_runs_from, #id_production_runs_to").all_inner_texts()
    assert "Alpha spring run" in " ".join(page_text)
    assert "Bravo" not in " ".join(page_text)

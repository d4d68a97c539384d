"""The portal's places pages: a client's admins add, change and delete places (point and
radius, polygon, or a geocoded address), its viewers only look, other clients get 404."""

import json
import re

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from geofencing import services
from geofencing.models import Place, StatusHistory
from tests.factories import ProductionRunFactory
from tracking import services as tracking_services

pytestmark = pytest.mark.django_db

SQUARE = [[16.36, 48.20], [16.38, 48.20], [16.38, 48.21], [16.36, 48.21], [16.36, 48.20]]
BOWTIE = [[16.36, 48.20], [16.38, 48.21], [16.38, 48.20], [16.36, 48.21], [16.36, 48.20]]


def _polygon_json(ring) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def _body(world, **changes) -> dict:
    body = {
        "kind": "DELIVERY",
        "name": "Graz store",
        "address": "",
        "latitude": "47.070700",
        "longitude": "15.439500",
        "radius_m": "180",
        "polygon": "",
        "production_runs": [world.run_a.pk],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture
def place_a(world):
    return services.place_create(
        client=world.client_a,
        kind=Place.Kind.STORAGE,
        name="Vienna depot",
        address="Laxenburger Str. 365, Wien",
        point=Point(16.3565, 48.1478, srid=4326),
        radius_m=250,
        production_runs=[world.run_a],
    )


def _errors(response) -> dict[str, list[str]]:
    return {name: list(errors) for name, errors in response.context["form"].errors.items()}


# --- Creating ----------------------------------------------------------------------------


def test_admin_creates_a_place_by_point_and_radius(client, world):
    client.force_login(world.a_admin)
    response = client.post(reverse("portal:place-create"), _body(world))
    place = Place.objects.get(name="Graz store")
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:place-edit", args=[place.pk])
    assert (place.client, place.kind, place.radius_m, place.polygon) == (
        world.client_a,
        "DELIVERY",
        180,
        None,
    )
    assert (round(place.point.x, 6), round(place.point.y, 6)) == (15.4395, 47.0707)
    assert list(place.production_runs.all()) == [world.run_a]


def test_admin_creates_a_polygon_place_whose_point_is_its_centroid(client, world):
    client.force_login(world.a_admin)
    body = _body(world, latitude="", longitude="", polygon=_polygon_json(SQUARE))
    response = client.post(reverse("portal:place-create"), body)
    assert response.status_code == 302
    place = Place.objects.get(name="Graz store")
    assert place.polygon is not None and place.polygon.coords[0][0] == (16.36, 48.2)
    assert (round(place.point.x, 4), round(place.point.y, 4)) == (16.37, 48.205)


def test_admin_creates_a_place_from_a_geocoded_address(client, world, nominatim):
    client.force_login(world.a_admin)
    body = _body(world, latitude="", longitude="", address="Stephansplatz 1, Wien")
    response = client.post(reverse("portal:place-create"), body)
    assert response.status_code == 302
    place = Place.objects.get(name="Graz store")
    assert (round(place.point.x, 4), round(place.point.y, 4)) == (16.3731, 48.2084)
    assert place.address == "Stephansplatz 1, Wien"
    assert nominatim.calls == ["/search"]


def test_an_address_nobody_finds_is_refused_by_name(client, world, nominatim):
    client.force_login(world.a_admin)
    body = _body(world, latitude="", longitude="", address="Nowhere Lane 9")
    response = client.post(reverse("portal:place-create"), body)
    assert response.status_code == 200
    assert _errors(response) == {"address": ["No place found for the address “Nowhere Lane 9”."]}
    assert not Place.objects.exists()


def test_a_point_is_required_unless_an_address_is_looked_up(client, world, settings):
    settings.GEOCODER_PROVIDER = ""
    client.force_login(world.a_admin)
    response = client.post(reverse("portal:place-create"), _body(world, latitude="", longitude=""))
    assert "Set the point" in _errors(response)["latitude"][0]
    response = client.post(reverse("portal:place-create"), _body(world, longitude=""))
    assert _errors(response) == {"longitude": ["Give the longitude as well, or neither."]}
    # Offline (no geocoder configured) the address cannot be looked up: it says so.
    response = client.post(
        reverse("portal:place-create"),
        _body(world, latitude="", longitude="", address="Stephansplatz 1"),
    )
    assert "no online geocoder is configured" in _errors(response)["address"][0]
    assert not Place.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"radius_m": "5"}, "radius_m", "A radius of 5 m is out of range: 10 to 50,000 m."),
        ({"radius_m": "60000"}, "radius_m", "A radius of 60000 m is out of range"),
        ({"latitude": "91.5"}, "latitude", "Latitude 91.5 is not between -90 and 90."),
        ({"longitude": "-181"}, "longitude", "Longitude -181.0 is not between -180 and 180."),
        ({"polygon": _polygon_json(BOWTIE)}, "polygon", "The polygon is not valid: Self-"),
        ({"polygon": "{not json"}, "polygon", "The polygon is not GeoJSON"),
        (
            {"polygon": _polygon_json(SQUARE[:-1])},
            "polygon",
            "The ring must be closed: repeat the first pair at the end.",
        ),
        (
            {"polygon": _polygon_json([[16.36, 48.2], [200, 48.2], [16.38, 48.21], [16.36, 48.2]])},
            "polygon",
            "[200.0, 48.2] is not a longitude, latitude pair.",
        ),
        ({"kind": "GARDEN"}, "kind", "GARDEN is not one of the available choices."),
    ],
)
def test_bad_geometry_is_refused_naming_the_field_and_value(client, world, changes, field, message):
    client.force_login(world.a_admin)
    response = client.post(reverse("portal:place-create"), _body(world, **changes))
    assert response.status_code == 200
    errors = _errors(response)
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert not Place.objects.exists()
    assert 'id="form-errors"' in response.content.decode()


def test_a_taken_name_is_refused_naming_it(client, world, place_a):
    client.force_login(world.a_admin)
    response = client.post(reverse("portal:place-create"), _body(world, name="Vienna depot"))
    assert _errors(response) == {
        "name": ["A place named “Vienna depot” already exists for this client."]
    }
    assert Place.objects.count() == 1


def test_runs_of_another_client_are_refused(client, world):
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:place-create"), _body(world, production_runs=[world.run_b.pk])
    )
    assert _errors(response) == {
        "production_runs": [f"Run {world.run_b.pk} is not one of this client's production runs."]
    }
    assert world.run_b.name not in response.content.decode()  # not even offered
    # Staff choose the client: its runs are the ones offered, B's run is refused for A.
    client.force_login(world.staff)
    body = _body(world, client=world.client_a.pk, production_runs=[world.run_b.pk])
    response = client.post(reverse("portal:place-create"), body)
    assert list(_errors(response)) == ["production_runs"]
    assert not Place.objects.exists()
    # And the service refuses the mix whoever calls it, naming the run.
    with pytest.raises(ValidationError, match="not Bravo summer run"):
        services.place_create(
            client=world.client_a, kind="DELIVERY", name="X",
            point=Point(16.37, 48.2, srid=4326), production_runs=[world.run_b],
        )  # fmt: skip


def test_the_runs_offered_are_the_clients_own(client, world):
    ProductionRunFactory(client=world.client_a, name="Alpha autumn run")
    client.force_login(world.a_admin)
    response = client.get(reverse("portal:place-create"))
    html = response.content.decode()
    assert "Alpha spring run" in html and "Alpha autumn run" in html
    assert "Bravo" not in html
    assert 'type="hidden" name="client"' in html  # one client: nothing to choose


# --- Changing and deleting -------------------------------------------------------------


def test_admin_edits_a_place(client, world, place_a):
    other_run = ProductionRunFactory(client=world.client_a, name="Alpha autumn run")
    client.force_login(world.a_admin)
    page = client.get(reverse("portal:place-edit", args=[place_a.pk]))
    form = page.context["form"]
    assert (form["latitude"].value(), form["longitude"].value()) == (48.1478, 16.3565)
    body = _body(
        world,
        name="Vienna south depot",
        kind="STORAGE",
        address="Laxenburger Str. 365, Wien",
        latitude="48.148",
        longitude="16.357",
        radius_m="400",
        production_runs=[other_run.pk],
    )
    response = client.post(reverse("portal:place-edit", args=[place_a.pk]), body)
    assert response.status_code == 302
    place_a.refresh_from_db()
    assert (place_a.name, place_a.radius_m) == ("Vienna south depot", 400)
    assert (place_a.point.x, place_a.point.y) == (16.357, 48.148)
    assert list(place_a.production_runs.all()) == [other_run]


def test_edit_turns_a_circle_into_a_polygon_and_back(client, world, place_a):
    client.force_login(world.a_admin)
    url = reverse("portal:place-edit", args=[place_a.pk])
    client.post(url, _body(world, name="Vienna depot", polygon=_polygon_json(SQUARE)))
    place_a.refresh_from_db()
    assert place_a.polygon is not None
    form = client.get(url).context["form"]
    assert json.loads(form["polygon"].value())["coordinates"][0][1] == [16.38, 48.2]
    client.post(url, _body(world, name="Vienna depot", polygon=""))
    place_a.refresh_from_db()
    assert place_a.polygon is None and place_a.radius_m == 180


def test_edit_looks_the_address_up_when_asked(client, world, place_a, nominatim):
    client.force_login(world.a_admin)
    body = _body(world, name="Vienna depot", address="Stephansplatz 1, Wien", locate="on")
    response = client.post(reverse("portal:place-edit", args=[place_a.pk]), body)
    assert response.status_code == 302
    place_a.refresh_from_db()
    assert (round(place_a.point.x, 4), round(place_a.point.y, 4)) == (16.3731, 48.2084)


def test_a_refused_edit_changes_nothing(client, world, place_a):
    client.force_login(world.a_admin)
    body = _body(world, name="Renamed", radius_m="3")
    response = client.post(reverse("portal:place-edit", args=[place_a.pk]), body)
    assert list(_errors(response)) == ["radius_m"]
    body = _body(world, name="Renamed", production_runs=[world.run_b.pk])
    response = client.post(reverse("portal:place-edit", args=[place_a.pk]), body)
    assert list(_errors(response)) == ["production_runs"]
    place_a.refresh_from_db()
    assert (place_a.name, place_a.radius_m) == ("Vienna depot", 250)
    assert list(place_a.production_runs.all()) == [world.run_a]


def test_admin_deletes_a_place_after_confirming_and_history_stays(client, world, place_a):
    change = StatusHistory.objects.create(
        tracker=world.tracker_a,
        from_status="IN_TRANSIT",
        to_status="IN_STORAGE",
        at=timezone.now(),
        place=place_a,
    )
    client.force_login(world.a_admin)
    url = reverse("portal:place-delete", args=[place_a.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "Delete the place “Vienna depot”?" in (
        confirm.content.decode()
    )
    assert Place.objects.filter(pk=place_a.pk).exists()  # GET deletes nothing
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("portal:places")
    assert not Place.objects.filter(pk=place_a.pk).exists()
    change.refresh_from_db()
    assert change.place_id is None and change.to_status == "IN_STORAGE"


# --- Who may do what ---------------------------------------------------------------------


def _writes(world, place):
    edit = reverse("portal:place-edit", args=[place.pk])
    delete = reverse("portal:place-delete", args=[place.pk])
    new = reverse("portal:place-create")
    body = _body(world, name="Taken over", client=world.client_a.pk)
    return [("get", new, {}), ("post", new, body), ("get", edit, {}), ("post", edit, body),
            ("get", delete, {}), ("post", delete, {})]  # fmt: skip


def _snapshot():
    return sorted(
        (p.pk, p.name, p.radius_m, tuple(p.production_runs.values_list("pk", flat=True)))
        for p in Place.objects.all()
    )


def test_viewer_gets_403_on_every_write_and_nothing_changes(client, world, place_a):
    before = _snapshot()
    client.force_login(world.a_viewer)
    for method, url, body in _writes(world, place_a):
        response = getattr(client, method)(url, body)
        assert response.status_code == 403, (method, url)
    assert _snapshot() == before


def test_other_client_gets_404_on_every_write_and_nothing_changes(client, world, place_a):
    before = _snapshot()
    client.force_login(world.b_admin)
    for method, url, body in _writes(world, place_a):
        if url == reverse("portal:place-create") and method == "get":
            url += f"?client={world.client_a.pk}"
        response = getattr(client, method)(url, body)
        assert response.status_code == 404, (method, url)
    assert _snapshot() == before


def test_viewer_sees_the_places_but_no_edit_controls(client, world, place_a):
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:places"))
    html = response.content.decode()
    assert "Vienna depot" in html and "radius 250 m" in html and "Alpha spring run" in html
    assert 'id="new-place"' not in html
    assert reverse("portal:place-edit", args=[place_a.pk]) not in html
    assert reverse("portal:place-delete", args=[place_a.pk]) not in html
    features = _map_features(response)
    assert [f["properties"]["name"] for f in features] == ["Vienna depot"]
    assert features[0]["properties"]["url"] == ""


def test_admin_sees_the_list_with_edit_links_and_only_own_places(client, world, place_a):
    services.place_create(
        client=world.client_b, kind="DELIVERY", name="Bravo shop",
        point=Point(2.35, 48.85, srid=4326), production_runs=[world.run_b],
    )  # fmt: skip
    services.place_create(
        client=world.client_a, kind="DELIVERY", name="Square yard",
        polygon=Polygon(SQUARE, srid=4326),
    )  # fmt: skip
    client.force_login(world.a_admin)
    response = client.get(reverse("portal:places"))
    html = response.content.decode()
    assert 'id="new-place"' in html
    assert reverse("portal:place-edit", args=[place_a.pk]) in html
    assert "Bravo shop" not in html
    assert re.search(r"polygon, \d+(\.\d)? ha", html)  # the polygon's size by its area
    features = {f["properties"]["name"]: f for f in _map_features(response)}
    assert sorted(features) == ["Square yard", "Vienna depot"]
    assert features["Square yard"]["geometry"] == {"type": "Polygon", "coordinates": [SQUARE]}
    assert features["Vienna depot"]["geometry"] == {
        "type": "Point",
        "coordinates": [16.3565, 48.1478],
    }
    assert features["Vienna depot"]["properties"]["url"] == reverse(
        "portal:place-edit", args=[place_a.pk]
    )


def test_a_place_name_is_text_on_the_list(client, world):
    services.place_create(
        client=world.client_a, kind="DELIVERY", name="<img src=x onerror=alert(1)>",
        point=Point(16.37, 48.2, srid=4326),
    )  # fmt: skip
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:places")).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def _map_features(response) -> list[dict]:
    html = response.content.decode()
    data = re.search(r'<script id="places-map-data" type="application/json">(.*?)</script>', html)
    return json.loads(data.group(1))["features"]


def test_places_list_costs_the_same_queries_for_3_and_30_places(
    client, world, django_assert_num_queries
):
    def add(n, start):
        for i in range(start, start + n):
            place = services.place_create(
                client=world.client_a, kind="DELIVERY", name=f"Store {i:03}",
                point=Point(16.3 + i / 1000, 48.2, srid=4326), production_runs=[world.run_a],
            )  # fmt: skip
            if i % 2:
                place.polygon = Polygon(SQUARE, srid=4326)
                place.save()

    client.force_login(world.a_admin)
    url = reverse("portal:places")
    add(3, 0)
    client.get(url)  # warm the header's cached notification count
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    add(27, 3)
    with django_assert_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert len(_map_features(response)) == 30


# --- The partner API refuses viewers too -------------------------------------------------


@pytest.mark.parametrize("caller", ["session", "api_key"])
def test_api_refuses_the_clients_viewers_every_place_write(client, world, place_a, caller):
    if caller == "session":
        client.force_login(world.a_viewer)
    else:
        issued = tracking_services.api_key_create(
            user=world.a_admin, client=world.client_a, name="read only", role="VIEWER"
        )
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {issued.secret}"
    before = _snapshot()
    detail = reverse("api:place-detail", args=[place_a.pk])
    assert client.get(detail).status_code == 200  # they may read it
    created = client.post(
        reverse("api:place-list"),
        {"client": world.client_a.pk, "kind": "DELIVERY", "name": "X",
         "point": {"longitude": 16.4, "latitude": 48.2}},
        content_type="application/json",
    )  # fmt: skip
    changed = client.patch(detail, {"radius_m": 300}, content_type="application/json")
    deleted = client.delete(detail)
    assert [r.status_code for r in (created, changed, deleted)] == [403, 403, 403]
    assert _snapshot() == before

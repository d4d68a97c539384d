"""A production run's page: progress by status, places, the trackers' table a page at a time
(sortable), and the map's scoped GeoJSON endpoint."""

import json
from datetime import datetime

import pytest
from django.contrib.gis.geos import Point, Polygon
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from geofencing import services as geo_services
from geofencing.models import Place
from tests.portal.bulk import trackers_bulk
from tracking.models import Tracker

pytestmark = pytest.mark.django_db


def _run_url(world, **query) -> str:
    url = reverse("portal:run-detail", args=[world.run_a.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _rows(response) -> list[Tracker]:
    """The table's rows (plain values) as the trackers they show, in the table's order."""
    ids = [row["id"] for row in response.context["page"]]
    trackers = Tracker.objects.in_bulk(ids)
    return [trackers[pk] for pk in ids]


def _places(world):
    geo_services.place_create(
        client=world.client_a, kind=Place.Kind.DELIVERY, name="Shop Mariahilf",
        point=Point(16.35, 48.2, srid=4326), radius_m=150, production_runs=[world.run_a],
    )  # fmt: skip
    square = Polygon(((16.4, 48.1), (16.42, 48.1), (16.42, 48.12), (16.4, 48.12), (16.4, 48.1)))
    geo_services.place_create(
        client=world.client_a, kind=Place.Kind.STORAGE, name="Depot Simmering",
        point=Point(16.41, 48.11, srid=4326), polygon=square, production_runs=[world.run_a],
    )  # fmt: skip
    geo_services.place_create(
        client=world.client_b, kind=Place.Kind.DELIVERY, name="Bravo shop",
        point=Point(2.35, 48.85, srid=4326), production_runs=[world.run_b],
    )  # fmt: skip


def test_run_page_shows_progress_by_status_as_counts_and_a_bar(client, world):
    trackers_bulk(world.run_a, 8)  # statuses in turn: 2 of each
    trackers_bulk(world.run_b, 5)
    client.force_login(world.a_viewer)
    response = client.get(_run_url(world))
    counts = {p["status"]: p["count"] for p in response.context["progress"]["parts"]}
    assert counts == {"DELIVERED": 2, "IN_STORAGE": 2, "IN_TRANSIT": 2, "UNKNOWN": 3}
    html = response.content.decode()
    section = html.split('id="run-progress"')[1].split("</section>")[0]
    assert '<li class="status-delivered" data-status="DELIVERED">' in section
    assert 'Total <strong class="n">9</strong>' in section
    assert 'class="progress-part status-unknown" style="width: 33.33%"' in section


def test_run_page_embeds_only_its_places_and_points_the_map_at_its_endpoint(client, world):
    _places(world)
    trackers_bulk(world.run_a, 120)
    client.force_login(world.a_viewer)
    response = client.get(_run_url(world))
    html = response.content.decode()
    features = response.context["features"]["features"]
    assert sorted(f["properties"]["name"] for f in features) == [
        "Depot Simmering",
        "Shop Mariahilf",
    ]
    assert {f["geometry"]["type"] for f in features} == {"Point", "Polygon"}
    map_url = reverse("portal:run-geojson", args=[world.run_a.pk])
    assert f'data-refresh-url="{map_url}"' in html and 'data-refresh-load="true"' in html
    assert 'data-refresh-seconds="60"' in html and 'data-cluster="true"' in html
    assert "Bravo shop" not in html
    assert html.count("<tr data-tracker=") == 50  # a page of the table, not 121 rows


def test_run_geojson_has_the_runs_places_and_trackers_last_positions_only(client, world):
    _places(world)
    mine = trackers_bulk(world.run_a, 3)
    trackers_bulk(world.run_b, 4)
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:run-geojson", args=[world.run_a.pk]))
    assert response["Content-Type"] == "application/geo+json"
    assert "no-cache" in response["Cache-Control"]
    data = json.loads(response.content)
    kinds = [f["properties"]["kind"] for f in data["features"]]
    assert kinds.count("place") == 2 and kinds.count("tracker") == 3
    trackers = [f for f in data["features"] if f["properties"]["kind"] == "tracker"]
    assert sorted(f["properties"]["id"] for f in trackers) == sorted(t.pk for t in mine)
    assert "url" not in trackers[0]["properties"]  # the map builds it from data-tracker-url
    places = {f["properties"]["name"]: f for f in data["features"] if "name" in f["properties"]}
    assert places["Shop Mariahilf"]["properties"]["radius_m"] == 150
    assert places["Depot Simmering"]["geometry"]["type"] == "Polygon"


def test_run_table_is_paginated_by_50(client, world):
    trackers_bulk(world.run_a, 119)  # + world.tracker_a: 120
    client.force_login(world.a_viewer)
    first = client.get(_run_url(world, sort="label"))
    last = client.get(_run_url(world, sort="label", page=3))
    assert len(_rows(first)) == 50 and len(_rows(last)) == 20
    pages = [_rows(client.get(_run_url(world, sort="label", page=n))) for n in (1, 2, 3)]
    seen = {t.pk for rows in pages for t in rows}
    assert len(seen) == 120  # no overlap, nothing left out
    html = last.content.decode()
    assert "Page 3 of 3" in html and "trackers 101–120 of 120" in html
    assert 'rel="prev"' in html and 'rel="next"' not in html
    assert len(_rows(client.get(_run_url(world, page="x")))) == 50  # a bad page: the first
    assert len(_rows(client.get(_run_url(world, page="99")))) == 20  # past the end: the last


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("label", lambda t: (t.label, t.mac_address)),
        ("status", lambda t: (t.status, t.label, t.mac_address)),
    ],
)
def test_run_table_sorts_by_column_both_ways(client, world, sort, key):
    trackers_bulk(world.run_a, 12)
    Tracker.objects.filter(pk=world.tracker_a.pk).update(label="Zeta")
    client.force_login(world.a_viewer)
    rows = _rows(client.get(_run_url(world, sort=sort)))
    assert rows == sorted(rows, key=key)
    reverse_rows = _rows(client.get(_run_url(world, sort="-" + sort)))
    assert [t.pk for t in reverse_rows] == [t.pk for t in reversed(rows)]


def test_run_table_sorts_by_last_seen_newest_first_never_seen_last(client, world):
    trackers_bulk(world.run_a, 6)  # every third silent for two days; world.tracker_a never
    client.force_login(world.a_viewer)
    rows = _rows(client.get(_run_url(world, sort="last_seen")))
    assert rows[-1].pk == world.tracker_a.pk
    times = [t.last_report_at for t in rows[:-1]]
    assert times == sorted(times, reverse=True)
    html = client.get(_run_url(world, sort="last_seen")).content.decode()
    assert 'href="?sort=-last_seen"' in html and "sorted-asc" in html
    unknown = client.get(_run_url(world, sort="nonsense"))
    assert unknown.context["sort"] == "status"


@pytest.mark.parametrize("user", ["a_viewer", "staff"])
def test_run_page_and_map_run_the_same_queries_for_10_and_1000_trackers(client, world, user):
    client.force_login(getattr(world, user))
    _places(world)
    trackers_bulk(world.run_a, 10)
    urls = [_run_url(world), reverse("portal:run-geojson", args=[world.run_a.pk])]
    for url in urls:
        client.get(url)  # warm: session, content types, the header's cached count
    small = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        small[url] = len(queries.captured_queries)
    trackers_bulk(world.run_a, 990)
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert len(queries.captured_queries) == small[url], url
    assert len(json.loads(response.content)["features"]) == 1002  # 1,000 trackers, 2 places


def test_database_built_position_features_are_the_python_ones(world):
    from tracking import geojson, selectors

    trackers_bulk(world.run_a, 5)
    Tracker.objects.filter(production_run=world.run_a).update(last_report_at=None, label="")
    trackers_bulk(world.run_a, 4, lon=16.123456789, lat=48.987654321)
    Tracker.objects.filter(label="Pallet 1").update(nearest_city='Wien "Mitte" <1>')
    trackers_bulk(world.run_b, 3)
    for user, run in [(world.a_viewer, world.run_a), (world.a_viewer, None), (world.staff, None)]:
        positions = selectors.tracker_position_list(user=user, production_run=run)
        python = geojson.tracker_position_features(positions)
        database = json.loads(
            selectors.tracker_position_features_json(user=user, production_run=run)
        )
        # PostgreSQL writes the same instants with trailing zeros of the microseconds left out.
        for feature in [*database, *python]:
            at = feature["properties"].get("last_report_at")
            if at:
                feature["properties"]["last_report_at"] = datetime.fromisoformat(at)
        assert database == python
        assert len(database) == (9 if user == world.a_viewer else 12)
    assert (
        selectors.tracker_position_features_json(user=world.b_admin, production_run=world.run_a)
        == "[]"
    )


def test_run_table_rows_escape_labels_and_cities(client, world):
    evil = '<img src=x onerror="alert(1)">'
    Tracker.objects.filter(pk=world.tracker_a.pk).update(
        label=f"Crate {evil}", nearest_city=f"Town {evil}", nearest_country_code="AT"
    )
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:run-detail", args=[world.run_a.pk])).content.decode()
    assert evil not in html
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    assert f"<td>Crate {escaped}</td>" in html
    assert f"<td>Town {escaped}, AT</td>" in html

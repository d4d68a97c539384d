"""The portal dashboard: status counts per live run, the clustered map's data, the status
changes of the last week, silent trackers and their threshold."""

import json
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone

from geofencing import services as geo_services
from geofencing.models import Place, StatusHistory
from tests.factories import ProductionRunFactory, TrackerFactory
from tests.portal.bulk import trackers_bulk
from tracking.models import AuditEvent, Client, Tracker

pytestmark = pytest.mark.django_db


def _map_data(client) -> dict:
    """The dashboard map's collection, as its endpoint answers it to the logged-in user."""
    response = client.get(reverse("portal:dashboard-geojson"))
    assert response["Content-Type"] == "application/geo+json"
    return json.loads(response.content)


def test_dashboard_counts_trackers_by_status_per_live_run_and_in_total(client, world):
    trackers_bulk(world.run_a, 8)  # statuses in turn: 2 of each
    trackers_bulk(world.run_b, 5)
    ended = ProductionRunFactory(
        brand=world.run_a.brand,
        name="Alpha old run",
        starts_at=timezone.now() - timedelta(days=60),
        ends_at=timezone.now() - timedelta(days=30),
    )
    trackers_bulk(ended, 3)
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:dashboard"))
    progress = dict((run.name, p) for run, p in response.context["run_progress"])
    assert list(progress) == ["Alpha spring run"]  # live runs only, own only
    counts = {part["status"]: part["count"] for part in progress["Alpha spring run"]["parts"]}
    # world.tracker_a (UNKNOWN) is in the run as well
    assert counts == {"DELIVERED": 2, "IN_STORAGE": 2, "IN_TRANSIT": 2, "UNKNOWN": 3}
    total = response.context["total_progress"]
    assert total["total"] == 9
    html = response.content.decode()
    assert 'id="status-total"' in html and "Bravo summer run" not in html


def test_dashboard_map_has_every_visible_tracker_with_a_position_and_no_other(client, world):
    mine = trackers_bulk(world.run_a, 4)
    trackers_bulk(world.run_b, 6)
    client.force_login(world.a_admin)
    data = _map_data(client)
    ids = sorted(f["properties"]["id"] for f in data["features"])
    assert ids == sorted(t.pk for t in mine)  # world.tracker_a has no position: not mapped
    feature = data["features"][0]
    assert feature["properties"]["kind"] == "tracker"
    assert set(feature["properties"]) <= {"kind", "id", "mac", "status", "label", "city",
                                          "last_report_at"}  # fmt: skip
    assert "url" not in feature["properties"]  # built from data-tracker-url
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert 'data-cluster="true"' in html
    assert 'data-tracker-url="/trackers/{id}/history/"' in html
    # The page carries no positions: the map fetches them from its endpoint at once.
    assert f'data-refresh-url="{reverse("portal:dashboard-geojson")}"' in html
    assert 'data-refresh-load="true"' in html
    embedded = html.split('id="dashboard-map-data" type="application/json">')[1].split("<")[0]
    assert json.loads(embedded) == {"type": "FeatureCollection", "features": []}


def test_dashboard_without_positions_shows_no_map(client, world):
    client.force_login(world.a_admin)
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert 'id="dashboard-map"' not in html
    assert "No tracker has reported a position yet." in html


def test_dashboard_lists_recent_status_changes_newest_first_scoped_and_capped(client, world):
    now = timezone.now()
    place = geo_services.place_create(
        client=world.client_a, kind=Place.Kind.DELIVERY, name="Shop Mariahilf",
        point=Point(16.35, 48.2, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip
    tracker = world.tracker_a
    Tracker.objects.filter(pk=tracker.pk).update(label="Pallet 7")
    for hours, before, after, at_place, left in [
        (200, "UNKNOWN", "IN_TRANSIT", None, None),  # older than 7 days: not listed
        (30, "IN_TRANSIT", "DELIVERED", place, None),
        (2, "DELIVERED", "IN_TRANSIT", None, place),  # the engine records the place left
    ]:
        StatusHistory.objects.create(
            tracker=tracker, from_status=before, to_status=after,
            at=now - timedelta(hours=hours), place=at_place, from_place=left,
        )  # fmt: skip
    StatusHistory.objects.create(
        tracker=world.tracker_b, from_status="UNKNOWN", to_status="DELIVERED", at=now
    )
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:dashboard"))
    changes = response.context["changes"]
    assert [(c["from_status"], c["to_status"]) for c in changes] == [
        ("DELIVERED", "IN_TRANSIT"),
        ("IN_TRANSIT", "DELIVERED"),
    ]
    assert changes[0]["from_place_name"] == "Shop Mariahilf"  # the place it left
    assert changes[1]["place_name"] == place.name
    section = response.content.decode().split('id="recent-changes"')[1].split("</section>")[0]
    assert "Pallet 7" in section and tracker.mac_address in section
    assert "left</span> Shop Mariahilf" in section and "at Shop Mariahilf" in section
    assert world.tracker_b.mac_address not in section

    trackers_bulk(world.run_a, 60)
    response = client.get(reverse("portal:dashboard"))
    assert len(response.context["changes"]) == 50


def test_dashboard_lists_trackers_silent_longer_than_their_clients_threshold(client, world):
    now = timezone.now()
    quiet = TrackerFactory(production_run=world.run_a, last_report_at=now - timedelta(hours=30))
    TrackerFactory(production_run=world.run_a, last_report_at=now - timedelta(hours=20))
    TrackerFactory(production_run=world.run_b, last_report_at=now - timedelta(hours=30))
    client.force_login(world.a_viewer)
    silent = client.get(reverse("portal:dashboard")).context["silent_trackers"]
    assert [t.pk for t in silent] == [quiet.pk]

    Client.objects.filter(pk=world.client_a.pk).update(silent_after_hours=12)
    silent = client.get(reverse("portal:dashboard")).context["silent_trackers"]
    assert len(silent) == 2


def test_client_admin_changes_the_silent_threshold_audited(client, world):
    client.force_login(world.a_admin)
    html = client.get(reverse("portal:dashboard")).content.decode()
    url = reverse("portal:silent-threshold", args=[world.client_a.pk])
    assert f'action="{url}"' in html
    response = client.post(url, {"silent_after_hours": "6"})
    assert response.status_code == 302
    world.client_a.refresh_from_db()
    assert world.client_a.silent_after_hours == 6
    audit = AuditEvent.objects.get(action="client.silent_after_hours")
    assert audit.actor == world.a_admin and audit.details == {"before": 24, "after": 6}


@pytest.mark.parametrize("value", ["0", "-3", "abc", "3000", ""])
def test_a_bad_silent_threshold_is_refused_and_named(client, world, value):
    client.force_login(world.a_admin)
    url = reverse("portal:silent-threshold", args=[world.client_a.pk])
    response = client.post(url, {"silent_after_hours": value}, follow=True)
    world.client_a.refresh_from_db()
    assert world.client_a.silent_after_hours == 24
    text = response.content.decode()
    assert "Silent after (hours) for Alpha Logistics" in text
    assert not AuditEvent.objects.filter(action="client.silent_after_hours").exists()


def test_a_viewer_may_not_change_the_threshold_nor_see_the_form(client, world):
    client.force_login(world.a_viewer)
    url = reverse("portal:silent-threshold", args=[world.client_a.pk])
    assert f'action="{url}"' not in client.get(reverse("portal:dashboard")).content.decode()
    assert client.post(url, {"silent_after_hours": "6"}).status_code == 403
    client.force_login(world.b_admin)
    assert client.post(url, {"silent_after_hours": "6"}).status_code == 404
    world.client_a.refresh_from_db()
    assert world.client_a.silent_after_hours == 24


@pytest.mark.parametrize("user", ["a_viewer", "staff"])
def test_dashboard_runs_the_same_queries_for_10_and_1000_trackers(
    client, world, django_assert_num_queries, user
):
    client.force_login(getattr(world, user))
    trackers_bulk(world.run_a, 10)
    client.get(reverse("portal:dashboard"))  # warm: session, content types
    client.get(reverse("portal:dashboard-geojson"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    urls = [reverse("portal:dashboard"), reverse("portal:dashboard-geojson")]
    small = {}
    for url in urls:
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        small[url] = len(queries.captured_queries)
    assert len(_map_data(client)["features"]) == 10
    trackers_bulk(world.run_a, 990)
    trackers_bulk(world.run_b, 100)
    for url in urls:
        with django_assert_num_queries(small[url]):
            client.get(url)
    expected = 1000 if user == "a_viewer" else 1100
    assert len(_map_data(client)["features"]) == expected


def test_dashboard_rows_escape_names_and_labels(client, world):
    now = timezone.now()
    evil = '<img src=x onerror="alert(1)">'
    place = geo_services.place_create(
        client=world.client_a, kind=Place.Kind.DELIVERY, name=f"Dock {evil}",
        point=Point(16.35, 48.2, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip
    Tracker.objects.filter(pk=world.tracker_a.pk).update(label=f"Crate {evil}")
    StatusHistory.objects.create(
        tracker=world.tracker_a, from_status="IN_TRANSIT", to_status="DELIVERED",
        at=now - timedelta(hours=1), place=place,
    )  # fmt: skip
    TrackerFactory(
        production_run=world.run_a, label=f"Quiet {evil}", last_report_at=now - timedelta(days=3)
    )
    type(world.run_a).objects.filter(pk=world.run_a.pk).update(name=f"Run {evil}")
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert evil not in html
    escaped = "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;"
    for text in [f"Dock {escaped}", f"Crate {escaped}", f"Quiet {escaped}", f"Run {escaped}"]:
        assert text in html

"""Tracker and production-run pages in admin: read-only derived data, links, query counts."""

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse

from tests.factories import TrackerFactory
from tracking.models import Tracker


@pytest.fixture
def viewer(client, staff_in):
    client.force_login(staff_in("viewer"))
    return client


def _mapped_trackers(run, n):
    trackers = [TrackerFactory(production_run=run) for _ in range(n)]
    Tracker.objects.filter(pk__in=[t.pk for t in trackers]).update(
        last_point=Point(16.37, 48.2, srid=4326), status=Tracker.Status.IN_TRANSIT
    )
    return trackers


@pytest.mark.django_db
def test_tracker_page_links_history_reports_and_the_customers_view(viewer, world):
    tracker = world.tracker_a
    page = viewer.get(reverse("admin:tracking_tracker_change", args=[tracker.pk])).content.decode()
    assert f"/admin/geofencing/statushistory/?tracker__id__exact={tracker.pk}" in page
    assert f"/admin/tracking/locationreport/?tracker__id__exact={tracker.pk}" in page
    assert reverse("portal:tracker-history", args=[tracker.pk]) in page
    assert 'id="tracker-map-data"' in page
    assert "status_watermark" not in page and "Status watermark" not in page


@pytest.mark.django_db
def test_tracker_page_links_open_filtered_lists(viewer, world):
    url = reverse("admin:geofencing_statushistory_changelist")
    response = viewer.get(f"{url}?tracker__id__exact={world.tracker_a.pk}")
    assert response.status_code == 200
    url = reverse("admin:tracking_locationreport_changelist")
    assert viewer.get(f"{url}?tracker__id__exact={world.tracker_a.pk}").status_code == 200


@pytest.mark.django_db
def test_tracker_page_ignores_an_unknown_range(viewer, world):
    url = reverse("admin:tracking_tracker_change", args=[world.tracker_a.pk])
    response = viewer.get(url + "?days=9999")
    assert response.status_code == 200
    assert response.context["track_days"] == "2"


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 25])
def test_run_page_queries_do_not_grow_with_its_trackers(
    viewer, world, django_assert_max_num_queries, n
):
    _mapped_trackers(world.run_a, n)
    url = reverse("admin:tracking_productionrun_change", args=[world.run_a.pk])
    viewer.get(url)
    with django_assert_max_num_queries(14):
        response = viewer.get(url)
    assert response.context["run_tracker_total"] == n + 1
    assert len(response.context["map_features"]["features"]) == n


@pytest.mark.django_db
@pytest.mark.parametrize("n", [10, 100])
def test_tracker_changelist_queries_do_not_grow_with_rows(
    viewer, world, django_assert_num_queries, n
):
    _mapped_trackers(world.run_a, n - 2)
    url = reverse("admin:tracking_tracker_changelist")
    viewer.get(url)
    with django_assert_num_queries(8):  # the session comes from the cache
        response = viewer.get(url)
    assert response.context["cl"].result_count == n

"""Every list endpoint runs the same number of queries for 2 rows as for 20."""

from __future__ import annotations

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from fleet.models import CustomerOrder
from geofencing import services as geofencing_services
from geofencing.models import Place, StatusHistory
from tests.factories import TrackerFactory
from tracking import services
from tracking.models import Brand, Client, Membership, ProductionRun, WebhookDelivery

from .test_behaviour import _report


def _grow(world, n: int) -> None:
    """n more of everything a list endpoint shows, for client A."""
    start = Brand.objects.count()
    for i in range(n):
        client = Client.objects.create(name=f"Grown {start}-{i}")
        Membership.objects.create(user=world.a_admin, client=client, role="VIEWER")
        brand = Brand.objects.create(client=world.client_a, name=f"Brand {start}-{i}")
        run = ProductionRun.objects.create(
            brand=brand,
            name=f"Run {i}",
            starts_at=world.run_a.starts_at,
            ends_at=world.run_a.ends_at,
        )
        tracker = TrackerFactory(production_run=run, client=world.client_a)
        _report(world.tracker_a, 1000 * start + i)
        geofencing_services.place_create(
            client=world.client_a,
            kind=Place.Kind.STORAGE,
            name=f"Place {start}-{i}",
            point=Point(16.3, 48.2, srid=4326),
            production_runs=[run, world.run_a],
        )
        CustomerOrder.objects.create(client=world.client_a, reference=f"O-{start}-{i}", quantity=2)
        StatusHistory.objects.create(
            tracker=world.tracker_a, from_status="UNKNOWN", to_status="IN_TRANSIT", at=run.starts_at
        )
        services.webhook_create(
            user=world.a_admin,
            client=world.client_a,
            url=f"https://hooks.example.com/{start}-{i}",
            event_types=["tracker.silent"],
        )
        event = services.event_record(
            type="tracker.silent", tracker=tracker, payload={}, occurred_at=run.starts_at
        )
        WebhookDelivery.objects.create(endpoint=world.webhook, event=event)


LISTS = [
    "/api/v1/clients/",
    "/api/v1/brands/",
    "/api/v1/production-runs/",
    "/api/v1/trackers/",
    "/api/v1/trackers/?format=geojson",
    "/api/v1/places/",
    "/api/v1/orders/",
    "/api/v1/webhooks/",
    "TRACKER/status-history/",
    "TRACKER/locations/?since=2026-11-01T00:00:00Z&until=2026-12-01T00:00:00Z",
    "HOOK/deliveries/",
]


@pytest.mark.parametrize("url", LISTS)
def test_list_query_count_does_not_grow_with_the_page(world, url):
    world.webhook = services.webhook_create(
        user=world.a_admin,
        client=world.client_a,
        url="https://hooks.example.com/main",
        event_types=["tracker.silent"],
    ).endpoint
    url = url.replace("TRACKER", f"/api/v1/trackers/{world.tracker_a.pk}").replace(
        "HOOK", f"/api/v1/webhooks/{world.webhook.pk}"
    )
    client = APIClient()
    client.force_authenticate(world.a_admin)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url + ("&" if "?" in url else "?") + "limit=100")
        assert response.status_code == 200, response.content
        body = response.json()
        rows = body.get("results", body.get("features"))
        return len(queries), len(rows)

    _grow(world, 2)
    small, small_rows = count()
    _grow(world, 18)
    large, large_rows = count()
    assert large_rows == small_rows + 18
    assert large == small, (url, small, large)

"""The operations dashboard: what it counts, and that it costs a bounded number of queries."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone

from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from geofencing.models import StatusHistory
from tests.factories import ProductionRunFactory, TrackerFactory
from tests.findmy.factories import AppleAccountFactory
from trackersite import selectors
from tracking.models import Tracker

DASHBOARD_QUERIES = 7  # one per block; see trackersite.selectors


def _populate(world, n: int) -> None:
    """n of everything the dashboard reads: trackers, fetch runs, changes, accounts, runs."""
    now = timezone.now()
    trackers = [TrackerFactory(production_run=world.run_a) for _ in range(n)]
    for i, tracker in enumerate(trackers):
        tracker.last_report_at = now - timedelta(hours=i % 48)
        tracker.last_point = Point(16.3, 48.2, srid=4326)
        tracker.status = Tracker.Status.IN_TRANSIT
        tracker.save()
        TrackerFetchState.objects.create(tracker=tracker, next_due_at=now - timedelta(minutes=i))
        StatusHistory.objects.create(
            tracker=tracker, from_status="UNKNOWN", to_status="IN_TRANSIT", at=now
        )
        FetchRun.objects.create(
            started_at=now - timedelta(hours=i % 150),
            ids_requested=10,
            ids_with_reports=i % 10,
            reports_new=i,
            error_kind="" if i % 3 else "backoff",
        )
    for _ in range(n):
        AppleAccountFactory()
        ProductionRunFactory(starts_at=now - timedelta(hours=1))


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 30])
def test_dashboard_costs_the_same_queries_for_any_amount_of_data(
    world, django_assert_num_queries, n
):
    _populate(world, n)
    with django_assert_num_queries(DASHBOARD_QUERIES):
        selectors.operations_dashboard()


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 30])
def test_dashboard_page_costs_the_same_queries_for_any_amount_of_data(
    client, staff_in, world, django_assert_num_queries, n
):
    _populate(world, n)
    client.force_login(staff_in("viewer"))
    client.get(reverse("admin:index"))  # warm the session and the content types
    # user, and the user's permissions (twice: groups then app list), then the blocks (the
    # session comes from the cache)
    with django_assert_num_queries(DASHBOARD_QUERIES + 3):
        response = client.get(reverse("admin:index"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_dashboard_counts_trackers_queue_and_fetch_health(world):
    now = timezone.now()
    heard, silent = world.tracker_a, world.tracker_b
    Tracker.objects.filter(pk=heard.pk).update(
        last_report_at=now - timedelta(hours=1), status=Tracker.Status.DELIVERED
    )
    Tracker.objects.filter(pk=silent.pk).update(last_report_at=now - timedelta(days=2))
    TrackerFactory(lifecycle_state=Tracker.Lifecycle.GENERATED)  # not in production
    TrackerFetchState.objects.create(tracker=heard, next_due_at=now - timedelta(minutes=1))
    TrackerFetchState.objects.create(
        tracker=silent, next_due_at=now - timedelta(minutes=1),
        claimed_until=now + timedelta(minutes=1), backoff_factor=4,
    )  # fmt: skip
    FetchRun.objects.create(started_at=now, ids_requested=4, ids_with_reports=1, reports_new=7)
    FetchRun.objects.create(started_at=now, error_kind="needs_login")
    FetchRun.objects.create(started_at=now - timedelta(days=3), ids_requested=2, ids_with_reports=2)
    FetchRun.objects.create(started_at=now - timedelta(days=9), reports_new=1000)  # too old

    d = selectors.operations_dashboard(now=now)

    assert d.lifecycle_counts["ACTIVE"] == 2
    assert d.lifecycle_counts["GENERATED"] == 1
    assert d.status_counts["DELIVERED"] == 1
    assert d.status_counts["UNKNOWN"] == 1
    assert (d.active, d.heard_24h, d.heard_share_24h) == (2, 1, 50)
    assert d.queue == {"due": 1, "leased": 1, "backing_off": 1, "never": 0, "silent_24h": 1}
    assert d.fetch_24h.requests_by_kind["ok"][-1] == 1
    assert d.fetch_24h.requests_by_kind["needs_login"][-1] == 1
    assert d.fetch_24h.reports_new[-1] == 7
    assert d.fetch_24h.heard_share[-1] == 25.0
    assert len(d.fetch_24h.labels) == 24
    assert len(d.fetch_7d.labels) in (7, 8)
    assert sum(d.fetch_7d.requests_by_kind["ok"]) == 2
    assert sum(d.fetch_7d.reports_new) == 7


@pytest.mark.django_db
def test_dashboard_alerts_name_the_account_and_what_to_do(client, staff_in):
    AppleAccountFactory(name="ops@example.com", health=AppleAccount.Health.NEEDS_LOGIN)
    AppleAccountFactory(
        name="spare@example.com",
        health=AppleAccount.Health.BACKING_OFF,
        backoff_until=timezone.now() + timedelta(minutes=20),
    )
    AppleAccountFactory(name="fine@example.com")
    client.force_login(staff_in("viewer"))
    page = client.get(reverse("admin:index")).content.decode()
    assert page.count('class="errornote account-alert"') == 2
    assert "ops@example.com</strong></a>\n    · Needs login. Apple refused its session" in page
    assert "spare@example.com</strong></a>\n    · Backing off. Apple or anisette" in page


@pytest.mark.django_db
def test_dashboard_queue_numbers_link_to_the_filtered_list(client, staff_in, world):
    now = timezone.now()
    TrackerFetchState.objects.create(tracker=world.tracker_a, next_due_at=now)
    TrackerFetchState.objects.create(tracker=world.tracker_b, next_due_at=now + timedelta(hours=1))
    client.force_login(staff_in("viewer"))
    page = client.get(reverse("admin:index")).content.decode()
    url = reverse("admin:findmy_trackerfetchstate_changelist") + "?reporting=due"
    assert f'href="{url}"' in page
    listed = client.get(url)
    assert list(listed.context["cl"].queryset) == [world.tracker_a.fetch_state]

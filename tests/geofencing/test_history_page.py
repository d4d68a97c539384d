"""The tracker history page: isolation per persona, dwell times, roll-ups for long ranges."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from geofencing import selectors, services
from tests.factories import TrackerFactory

from .conftest import DELIVERY, STORAGE, add_report, offset

VIENNA = (16.3725, 48.2082)
PERSONAS = {"staff": None, "a_admin": "a", "a_viewer": "a", "b_admin": "b"}


@pytest.fixture
def trackers(world):
    return {"a": TrackerFactory(production_run=world.run_a),
            "b": TrackerFactory(production_run=world.run_b)}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("owner", ["a", "b"])
@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_history_page_answers_404_for_other_clients(client, world, trackers, owner, persona_name):
    client.force_login(getattr(world, persona_name))
    response = client.get(reverse("portal:tracker-history", args=[trackers[owner].pk]))
    own = PERSONAS[persona_name] in (None, owner)
    assert response.status_code == (200 if own else 404)


@pytest.mark.django_db
def test_history_page_sends_anonymous_users_to_log_in(client, trackers):
    response = client.get(reverse("portal:tracker-history", args=[trackers["a"].pk]))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


@pytest.mark.django_db
def test_history_page_missing_tracker_is_404(client, world):
    client.force_login(world.staff)
    assert client.get(reverse("portal:tracker-history", args=[999999])).status_code == 404


def _visit_sequence(tracker, make_place, run):
    depot = offset(*VIENNA, metres=5000, bearing=200)
    make_place(run, STORAGE, *depot, radius_m=200, name="Depot")
    make_place(run, DELIVERY, *VIENNA, radius_m=150, name="Shop")
    now = timezone.now().replace(microsecond=0)
    moves = [(depot, -300), (depot, -240), (offset(*VIENNA, metres=2500), -180),
             (offset(*VIENNA, metres=2600), -150), (VIENNA, -120)]  # fmt: skip
    for (lon, lat), minutes in moves:
        report = add_report(tracker, lon, lat)
        report.observed_at = now + timedelta(minutes=minutes)
        report.save()
    services.evaluate_statuses()
    return now


@pytest.mark.django_db
def test_dwell_time_per_visit_comes_from_the_history(world, trackers, make_place):
    now = _visit_sequence(trackers["a"], make_place, world.run_a)

    history = selectors.tracker_history(
        user=world.a_viewer, tracker_id=trackers["a"].pk, start=now - timedelta(days=1), end=now
    )

    assert [(v.place.name, v.arrived_at, v.left_at) for v in history.visits] == [
        ("Depot", now - timedelta(minutes=300), now - timedelta(minutes=180)),
        ("Shop", now - timedelta(minutes=120), None),
    ]
    assert history.visits[0].dwell == timedelta(hours=2)
    assert history.visits[0].dwell_text == "2 h 0 min"
    assert history.resolution == "reports"
    assert len(history.track) == 5
    assert [p.name for p in history.places] == ["Depot", "Shop"]


@pytest.mark.django_db
def test_long_ranges_read_the_rollups(client, world, trackers, make_place):
    now = _visit_sequence(trackers["a"], make_place, world.run_a)
    services.rollup_locations()

    week = selectors.tracker_history(
        user=world.a_admin, tracker_id=trackers["a"].pk, start=now - timedelta(days=7), end=now
    )
    year = selectors.tracker_history(
        user=world.a_admin, tracker_id=trackers["a"].pk, start=now - timedelta(days=365), end=now
    )

    assert week.resolution == "hourly"
    assert sum(p.reports for p in week.track) == 5
    assert year.resolution == "daily"
    assert sum(p.reports for p in year.track) == 5

    client.force_login(world.a_viewer)
    response = client.get(
        reverse("portal:tracker-history", args=[trackers["a"].pk]), {"days": "30"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Depot" in html and "2 h 0 min" in html
    # Visit statuses read as their labels, never as the stored constant.
    assert "In storage" in html and "In_Storage" not in html


@pytest.mark.django_db
def test_each_change_names_the_place_it_left(client, world, trackers, make_place):
    _visit_sequence(trackers["a"], make_place, world.run_a)

    changes = selectors.status_history_list(user=world.a_viewer, tracker=trackers["a"])

    assert [(c.from_status, c.to_status, c.from_place_name) for c in changes] == [
        ("UNKNOWN", "IN_STORAGE", None),
        ("IN_STORAGE", "IN_TRANSIT", "Depot"),
        ("IN_TRANSIT", "DELIVERED", None),
    ]
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:tracker-history", args=[trackers["a"].pk])).content
    assert "In storage (Depot)" in html.decode()


@pytest.mark.django_db
def test_history_of_a_range_reads_only_that_range_and_agrees_with_the_whole(
    world, trackers, make_place, django_assert_num_queries
):
    now = _visit_sequence(trackers["a"], make_place, world.run_a)
    whole = list(selectors.status_history_list(user=world.a_viewer, tracker=trackers["a"]))
    # Ranges before, across and after each change: (start, end) in minutes from now.
    for start, end in [(-400, -350), (-400, -250), (-290, -200), (-200, -170), (-170, -130),
                       (-130, -119), (-100, 0), (-400, 0), (-240, -180)]:  # fmt: skip
        start_at, end_at = now + timedelta(minutes=start), now + timedelta(minutes=end)
        with django_assert_num_queries(4):  # tracker, reports, changes, places
            history = selectors.tracker_history(
                user=world.a_viewer, tracker_id=trackers["a"].pk, start=start_at, end=end_at
            )
        expected_changes = [c for c in whole if start_at <= c.at <= end_at]
        expected_visits = [
            (c.place_id, c.at, c.left_at)
            for c in whole
            if c.place_id and c.at <= end_at and (c.left_at is None or c.left_at >= start_at)
        ]
        assert [(c.pk, c.left_at, c.from_place_name) for c in history.changes] == [
            (c.pk, c.left_at, c.from_place_name) for c in expected_changes
        ], (start, end)
        assert [(v.place.pk, v.arrived_at, v.left_at) for v in history.visits] == expected_visits

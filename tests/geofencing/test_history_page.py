"""The tracker history page: isolation per persona, dwell times, roll-ups for long ranges."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.gis.geos import Point
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from geofencing import selectors, services
from tests.factories import TrackerFactory
from tracking.models import LocationReport, Tracker
from tracking.services import profile_timezone_set

from .conftest import DELIVERY, STORAGE, T0, add_report, offset, reports_every

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
def test_long_ranges_read_the_rollups_when_reports_pass_the_budget(
    client, world, trackers, make_place, settings
):
    now = _visit_sequence(trackers["a"], make_place, world.run_a)
    services.rollup_locations()
    settings.GEOFENCING_HISTORY_POINT_BUDGET = 4  # five reports: one too many

    week = selectors.tracker_history(
        user=world.a_admin, tracker_id=trackers["a"].pk, start=now - timedelta(days=7), end=now
    )
    settings.GEOFENCING_HISTORY_POINT_BUDGET = 100
    raw = selectors.tracker_history(
        user=world.a_admin, tracker_id=trackers["a"].pk, start=now - timedelta(days=7), end=now
    )

    assert week.resolution in ("hourly", "daily")
    assert 0 < len(week.track) <= 4
    assert sum(p.reports for p in week.track) == 5  # every report in exactly one point
    assert raw.resolution == "reports" and len(raw.track) == 5

    client.force_login(world.a_viewer)
    response = client.get(
        reverse("portal:tracker-history", args=[trackers["a"].pk]), {"days": "30"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Depot" in html and "2 h 0 min" in html
    # Statuses read as their labels, never as the stored constant.
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
    assert "left Depot" in html.decode()


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
        with django_assert_num_queries(4):  # tracker, path (every report fits), changes, places
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


def _in_range(tracker, start, end) -> int:
    return LocationReport.objects.filter(tracker=tracker, observed_at__range=(start, end)).count()


@pytest.mark.django_db
@pytest.mark.parametrize("budget", [2000, 150])
def test_a_longer_range_never_draws_fewer_points(world, trackers, settings, budget):
    """A report every 10 minutes for 40 days: the longer the range, the more points, never
    more than the budget, and every report in the range counts in exactly one point."""
    settings.GEOFENCING_HISTORY_POINT_BUDGET = budget
    tracker = trackers["a"]
    now = timezone.now().replace(microsecond=0)
    reports_every(tracker, minutes=10, days=40, end=now - timedelta(minutes=3))

    drawn = {}
    for days in (1, 2, 7, 30, 90, 365):
        start = now - timedelta(days=days)
        history = selectors.tracker_history(
            user=world.a_viewer, tracker_id=tracker.pk, start=start, end=now
        )
        drawn[days] = len(history.track)
        assert drawn[days] <= budget, days
        assert sum(p.reports for p in history.track) == _in_range(tracker, start, now), days
        assert [p.at for p in history.track] == sorted(p.at for p in history.track), days
        if history.resolution == "reports":
            assert drawn[days] == _in_range(tracker, start, now), days
        else:  # the budget filled: the newest part as fine as it allows
            assert drawn[days] >= budget - 1, (days, drawn[days])
    assert drawn[365] >= drawn[30] >= drawn[2] > 0
    assert list(drawn.values()) == sorted(drawn.values()), drawn
    if budget == 150:  # 40 days of hours are 960: the oldest part in days
        assert history.resolution == "daily" and history.finer_from is not None
    else:
        assert drawn[2] == 288  # every report of two days


@pytest.mark.django_db
def test_path_in_raw_reports_has_a_point_per_report(client, world, trackers):
    tracker = trackers["a"]
    now = timezone.now().replace(microsecond=0)
    reports_every(tracker, minutes=20, days=3, end=now - timedelta(minutes=1))
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:tracker-history", args=[tracker.pk]), {"days": "2"})
    history = response.context["history"]
    assert history.resolution == "reports"
    assert len(history.track) == _in_range(tracker, history.start, history.end) == 144
    (track,) = [
        f
        for f in response.context["map_features"]["features"]
        if f["properties"]["kind"] == "track"
    ]
    assert len(track["geometry"]["coordinates"]) == 144
    assert 'data-points="144"' in response.content.decode()


@pytest.mark.django_db
def test_custom_range_is_read_in_the_persons_timezone(client, world, trackers):
    tracker = trackers["a"]
    for minutes in (-30, 30, 90, 150, 200):  # T0 = 08:00 UTC = 03:00 in New York
        add_report(tracker, *VIENNA, minutes=minutes)
    profile_timezone_set(user=world.a_viewer, timezone_name="America/New_York")
    client.force_login(world.a_viewer)
    response = client.get(
        reverse("portal:tracker-history", args=[tracker.pk]),
        {"start": "2026-11-02T03:00", "end": "2026-11-02T06:00"},
    )
    assert response.status_code == 200
    history = response.context["history"]
    assert history.start == T0 and history.end == T0 + timedelta(hours=3)
    assert len(history.track) == 3  # 08:30, 09:30 and 10:30 UTC
    html = response.content.decode()
    assert 'value="2026-11-02T03:00"' in html and 'value="2026-11-02T06:00"' in html
    assert "2026-11-02 03:00 EST to 2026-11-02 06:00 EST" in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-13-01T10:00", "end": "2026-11-02T10:00"},
         "start: '2026-13-01T10:00' is not a date and time"),
        ({"start": "2026-11-02T10:00", "end": "yesterday"}, "end: 'yesterday' is not a date"),
        ({"start": "2026-11-02T10:00", "end": "2026-11-01T10:00"},
         "end: 2026-11-01 10:00 UTC is not after the start, 2026-11-02 10:00 UTC"),
        ({"start": "2026-11-02T10:00"}, "end: missing"),
        ({"start": "", "end": "2026-11-02T10:00"}, "start: missing"),
        ({"start": "2020-01-01T00:00", "end": "2026-11-02T10:00"}, "end: the range is longer"),
        ({"days": "3"}, "days: '3' is not one of 1, 2, 7, 30, 90, 365"),
    ],
)  # fmt: skip
def test_bad_range_is_a_400_naming_the_field(client, world, trackers, query, message):
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:tracker-history", args=[trackers["a"].pk]), query)
    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    # The page still answers, with the default range.
    assert response.context["history"].end - response.context["history"].start == timedelta(days=2)
    client.force_login(world.b_admin)
    other = client.get(reverse("portal:tracker-history", args=[trackers["a"].pk]), query)
    assert other.status_code == 404


@pytest.mark.django_db
def test_page_shows_last_seen_as_an_age_with_accuracy_and_city(client, world, trackers):
    tracker = trackers["a"]
    seen = timezone.now() - timedelta(minutes=12, seconds=5)
    Tracker.objects.filter(pk=tracker.pk).update(
        last_report_at=seen,
        last_point=Point(*VIENNA, srid=4326),
        last_accuracy_m=35.0,
        nearest_city="Vienna",
        nearest_country_code="AT",
    )
    profile_timezone_set(user=world.a_viewer, timezone_name="Asia/Tokyo")
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:tracker-history", args=[tracker.pk]))
    html = response.content.decode()
    exact = seen.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M JST")
    assert f'title="{exact}">12 min ago</time>' in html
    assert "± 35 m" in html and "Vienna, AT" in html
    (feature,) = [
        f for f in response.context["map_features"]["features"]
        if f["properties"]["kind"] == "tracker"
    ]  # fmt: skip
    assert feature["properties"]["accuracy_m"] == 35.0  # the map draws its circle


def test_history_page_shows_no_template_source(client, world, trackers):
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:tracker-history", args=[trackers["a"].pk])).content.decode()
    assert 'id="history-exports"' in html
    for syntax in ("{#", "#}", "{%", "%}", "{{"):
        assert syntax not in html

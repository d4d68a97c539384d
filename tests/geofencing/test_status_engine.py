"""The status engine: geodesic matching, priorities, debounce, ordering and idempotence."""

import random

import psycopg
import pytest
from django.contrib.gis.geos import Polygon
from django.db import OperationalError, connection, transaction
from django.test import override_settings

from geofencing import services
from geofencing.models import Place, StatusHistory, TrackerGeoState
from geofencing.transitions import Observation, TrackerWalk
from tests.factories import ProductionRunFactory, TrackerFactory
from tracking.models import Tracker

from .conftest import DELIVERY, STORAGE, T0, add_report, offset

VIENNA = (16.3725, 48.2082)
BUENOS_AIRES = (-58.3816, -34.6037)
Status = Tracker.Status


def history(tracker):
    return list(
        StatusHistory.objects.filter(tracker=tracker)
        .order_by("at", "id")
        .values_list("from_status", "to_status", "place__name")
    )


def refreshed(tracker):
    tracker.refresh_from_db()
    return tracker


@pytest.mark.django_db
def test_overlapping_delivery_and_storage_gives_delivered(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=500, name="Depot")
    make_place(world.run_a, DELIVERY, *offset(*VIENNA, metres=100), radius_m=300, name="Shop")
    add_report(tracker_a, *VIENNA)

    services.evaluate_statuses()

    tracker = refreshed(tracker_a)
    assert tracker.status == Status.DELIVERED
    assert tracker.status_changed_at == T0
    assert history(tracker) == [(Status.UNKNOWN, Status.DELIVERED, "Shop")]
    assert TrackerGeoState.objects.get(tracker=tracker).place.name == "Shop"


@pytest.mark.django_db
@pytest.mark.parametrize("bearing", [0, 90, 180, 270, 45])
@pytest.mark.parametrize(
    ("centre", "radius_m"),
    [(VIENNA, 100), (BUENOS_AIRES, 100), ((-122.4194, 37.7749), 2500), ((151.2093, -33.8688), 50)],
    ids=["vienna", "buenos-aires", "san-francisco", "sydney"],
)
def test_one_metre_inside_and_outside_the_radius_geodesically(
    world, make_place, centre, radius_m, bearing
):
    make_place(world.run_a, STORAGE, *centre, radius_m=radius_m, name="Yard")
    inside = TrackerFactory(production_run=world.run_a)
    outside = TrackerFactory(production_run=world.run_a)
    add_report(inside, *offset(*centre, metres=radius_m - 1, bearing=bearing))
    add_report(outside, *offset(*centre, metres=radius_m + 1, bearing=bearing))

    services.evaluate_statuses()

    assert refreshed(inside).status == Status.IN_STORAGE
    assert refreshed(outside).status == Status.IN_TRANSIT


@pytest.mark.django_db
def test_southern_and_western_hemisphere_polygon_replaces_the_circle(world, tracker_a, make_place):
    lon, lat = BUENOS_AIRES
    # A 2 km x 1 km warehouse area east of the centre; the circle (10 m) would not contain it.
    area = Polygon.from_bbox((lon, lat - 0.005, lon + 0.02, lat + 0.005))
    area.srid = 4326
    make_place(world.run_a, DELIVERY, lon, lat, radius_m=10, polygon=area, name="Puerto")
    add_report(tracker_a, lon + 0.015, lat + 0.004, minutes=0)
    other = TrackerFactory(production_run=world.run_a)
    add_report(other, lon - 0.0001, lat, minutes=0)  # within 10 m of the point, outside polygon

    services.evaluate_statuses()

    assert refreshed(tracker_a).status == Status.DELIVERED
    assert refreshed(other).status == Status.IN_TRANSIT


@pytest.mark.django_db
def test_storage_then_delivery_between_two_runs_records_both_in_order(world, tracker_a, make_place):
    depot = offset(*VIENNA, metres=5000, bearing=200)
    make_place(world.run_a, STORAGE, *depot, radius_m=200, name="Depot")
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=150, name="Shop")
    add_report(tracker_a, *offset(*VIENNA, metres=20000), minutes=0)
    services.evaluate_statuses()
    assert refreshed(tracker_a).status == Status.IN_TRANSIT

    add_report(tracker_a, *depot, minutes=60)
    add_report(tracker_a, *offset(*VIENNA, metres=2500), minutes=120)
    add_report(tracker_a, *offset(*VIENNA, metres=30), minutes=180)
    services.evaluate_statuses()

    assert history(tracker_a) == [
        (Status.UNKNOWN, Status.IN_TRANSIT, None),
        (Status.IN_TRANSIT, Status.IN_STORAGE, "Depot"),
        (Status.IN_STORAGE, Status.IN_TRANSIT, None),
        (Status.IN_TRANSIT, Status.DELIVERED, "Shop"),
    ]
    ats = list(StatusHistory.objects.filter(tracker=tracker_a).order_by("id").values_list("at"))
    assert [a for (a,) in ats] == sorted(a for (a,) in ats)
    tracker = refreshed(tracker_a)
    assert tracker.status == Status.DELIVERED
    assert tracker.status_changed_at.hour == 11  # 08:00 + 180 min


@pytest.mark.django_db
def test_reports_arriving_out_of_order_are_walked_by_observed_time(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    away = offset(*VIENNA, metres=3000)
    # Inserted newest first: ids run against time.
    add_report(tracker_a, *away, minutes=90)
    add_report(tracker_a, *away, minutes=60)
    add_report(tracker_a, *VIENNA, minutes=30)

    services.evaluate_statuses()

    assert history(tracker_a) == [
        (Status.UNKNOWN, Status.IN_STORAGE, "Depot"),
        (Status.IN_STORAGE, Status.IN_TRANSIT, None),
    ]
    tracker = refreshed(tracker_a)
    assert tracker.status == Status.IN_TRANSIT
    assert tracker.status_changed_at.minute == 0 and tracker.status_changed_at.hour == 9


@pytest.mark.django_db
def test_late_report_older_than_the_evaluated_ones_does_not_rewrite_history(
    world, tracker_a, make_place
):
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=200, name="Shop")
    add_report(tracker_a, *VIENNA, minutes=120)
    services.evaluate_statuses()
    late = add_report(tracker_a, *offset(*VIENNA, metres=5000), minutes=10)
    add_report(tracker_a, *offset(*VIENNA, metres=5000), minutes=20)

    result = services.evaluate_statuses()

    assert result.skipped_late == 2
    tracker = refreshed(tracker_a)
    assert tracker.status == Status.DELIVERED
    assert services.effective_status_watermark(tracker=tracker) >= late.id
    assert history(tracker) == [(Status.UNKNOWN, Status.DELIVERED, "Shop")]


@pytest.mark.django_db
def test_other_runs_and_other_clients_places_are_ignored(world, tracker_a, make_place):
    other_run_a = ProductionRunFactory(client=world.client_a, name="Alpha autumn run")
    make_place(other_run_a, DELIVERY, *VIENNA, radius_m=300, name="Other run shop")
    make_place(world.run_b, DELIVERY, *VIENNA, radius_m=300, name="Bravo shop")
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=300, name="Alpha depot")
    add_report(tracker_a, *VIENNA)

    services.evaluate_statuses()

    assert refreshed(tracker_a).status == Status.IN_STORAGE
    assert history(tracker_a) == [(Status.UNKNOWN, Status.IN_STORAGE, "Alpha depot")]


@pytest.mark.django_db
@override_settings(GEOFENCING_MAX_ACCURACY_M=250)
def test_an_inaccurate_report_changes_nothing(world, tracker_a, make_place):
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=200, name="Shop")
    add_report(tracker_a, *offset(*VIENNA, metres=9000), minutes=0)
    services.evaluate_statuses()
    bad = add_report(tracker_a, *VIENNA, minutes=30, accuracy=900)

    services.evaluate_statuses()

    tracker = refreshed(tracker_a)
    assert tracker.status == Status.IN_TRANSIT
    assert services.effective_status_watermark(tracker=tracker) == bad.id
    assert history(tracker) == [(Status.UNKNOWN, Status.IN_TRANSIT, None)]


@pytest.mark.django_db
@override_settings(GEOFENCING_DEPARTURE_REPORTS=2, GEOFENCING_DEPARTURE_MINUTES=0)
def test_debounce_holds_for_a_single_outside_report(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    away = offset(*VIENNA, metres=4000)
    add_report(tracker_a, *VIENNA, minutes=0)
    add_report(tracker_a, *away, minutes=10)  # one stray fix
    add_report(tracker_a, *VIENNA, minutes=20)
    add_report(tracker_a, *away, minutes=30)  # leaves: pending until a second report
    services.evaluate_statuses()
    assert refreshed(tracker_a).status == Status.IN_STORAGE
    assert len(TrackerGeoState.objects.get(tracker=tracker_a).departure_streak) == 1

    add_report(tracker_a, *away, minutes=40)
    services.evaluate_statuses()

    tracker = refreshed(tracker_a)
    assert tracker.status == Status.IN_TRANSIT
    # Dated by the first report outside, carried over from the previous run.
    assert tracker.status_changed_at == T0.replace(minute=30)
    assert history(tracker) == [
        (Status.UNKNOWN, Status.IN_STORAGE, "Depot"),
        (Status.IN_STORAGE, Status.IN_TRANSIT, None),
    ]


@pytest.mark.django_db
@override_settings(GEOFENCING_DEPARTURE_REPORTS=5, GEOFENCING_DEPARTURE_MINUTES=30)
def test_debounce_by_minutes_confirms_a_long_absence(world, tracker_a, make_place):
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=200, name="Shop")
    away = offset(*VIENNA, metres=4000)
    add_report(tracker_a, *VIENNA, minutes=0)
    add_report(tracker_a, *away, minutes=10)
    add_report(tracker_a, *away, minutes=25)
    services.evaluate_statuses()
    assert refreshed(tracker_a).status == Status.DELIVERED

    add_report(tracker_a, *away, minutes=45)
    services.evaluate_statuses()

    assert refreshed(tracker_a).status == Status.IN_TRANSIT
    assert refreshed(tracker_a).status_changed_at == T0.replace(minute=10)


@pytest.mark.django_db
def test_running_twice_is_idempotent(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    add_report(tracker_a, *VIENNA, minutes=0)
    add_report(tracker_a, *offset(*VIENNA, metres=800), minutes=30)
    add_report(tracker_a, *offset(*VIENNA, metres=900), minutes=60)
    first = services.evaluate_statuses()
    snapshot = (
        refreshed(tracker_a).status,
        tracker_a.status_changed_at,
        tracker_a.status_watermark,
        history(tracker_a),
    )

    second = services.evaluate_statuses()
    third = services.evaluate_statuses(tracker_ids=[tracker_a.pk])

    assert first.transitions == 2
    assert second.reports == 0 and second.transitions == 0
    assert third.reports == 0
    tracker = refreshed(tracker_a)
    assert (
        tracker.status,
        tracker.status_changed_at,
        tracker.status_watermark,
        history(tracker),
    ) == snapshot


@pytest.mark.django_db
def test_tracker_ids_limit_the_run_to_those_trackers(world, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    chosen = TrackerFactory(production_run=world.run_a)
    left_alone = TrackerFactory(production_run=world.run_a)
    add_report(chosen, *VIENNA)
    add_report(left_alone, *VIENNA)

    services.evaluate_statuses(tracker_ids=[chosen.pk])
    assert refreshed(chosen).status == Status.IN_STORAGE
    assert refreshed(left_alone).status == Status.UNKNOWN

    services.evaluate_statuses()
    assert refreshed(left_alone).status == Status.IN_STORAGE
    assert StatusHistory.objects.filter(tracker=chosen).count() == 1


@pytest.mark.django_db
def test_a_tracker_without_a_run_is_in_transit(world):
    loose = TrackerFactory()
    add_report(loose, *VIENNA)
    services.evaluate_statuses()
    assert refreshed(loose).status == Status.IN_TRANSIT


@pytest.mark.django_db
@override_settings(GEOFENCING_DEPARTURE_REPORTS=2, GEOFENCING_DEPARTURE_MINUTES=0)
def test_a_report_older_than_the_pending_streak_is_late_but_the_next_one_counts(
    world, tracker_a, make_place
):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    away = offset(*VIENNA, metres=4000)
    add_report(tracker_a, *VIENNA, minutes=0)
    add_report(tracker_a, *away, minutes=30)  # pending departure
    services.evaluate_statuses()
    assert refreshed(tracker_a).status == Status.IN_STORAGE

    add_report(tracker_a, *away, minutes=20)  # older than the pending streak: late
    add_report(tracker_a, *away, minutes=40)  # confirms the departure
    result = services.evaluate_statuses()

    assert result.skipped_late == 1
    tracker = refreshed(tracker_a)
    assert tracker.status == Status.IN_TRANSIT
    assert tracker.status_changed_at == T0.replace(minute=30)
    assert TrackerGeoState.objects.get(tracker=tracker).departure_streak == []


@pytest.mark.django_db
@override_settings(GEOFENCING_DEPARTURE_REPORTS=3, GEOFENCING_DEPARTURE_MINUTES=0)
def test_trackers_that_stay_put_are_left_alone_and_counted(world, make_place):
    make_place(world.run_a, DELIVERY, *VIENNA, radius_m=200, name="Shop")
    settled = TrackerFactory(production_run=world.run_a)
    wavering = TrackerFactory(production_run=world.run_a)
    for tracker in (settled, wavering):
        add_report(tracker, *VIENNA, minutes=0)
    add_report(wavering, *offset(*VIENNA, metres=3000), minutes=5)  # pending departure
    services.evaluate_statuses()
    streak_before = TrackerGeoState.objects.get(tracker=wavering).departure_streak
    assert len(streak_before) == 1

    late = add_report(settled, *VIENNA, minutes=-30)
    add_report(settled, *VIENNA, minutes=10)
    add_report(wavering, *VIENNA, minutes=10)  # back inside: the streak is noise
    result = services.evaluate_statuses()

    # Only the wavering tracker is walked: the settled one's reports are late or repeats.
    assert (result.reports, result.walked, result.transitions) == (3, 1, 0)
    assert result.skipped_late == 1
    assert services.effective_status_watermark(tracker=refreshed(settled)) >= late.id
    assert TrackerGeoState.objects.get(tracker=wavering).departure_streak == []
    assert refreshed(settled).status == refreshed(wavering).status == Status.DELIVERED
    assert history(settled) == [(Status.UNKNOWN, Status.DELIVERED, "Shop")]


def reference_walk(batches, classify, *, departure_reports, departure_minutes):
    """The per-report walk the engine must match: every accurate report of a batch in
    (observed_at, id) order, late ones skipped."""
    walk = TrackerWalk(Status.UNKNOWN, None, None, None)
    for batch in batches:
        for report in sorted(batch, key=lambda r: (r.observed_at, r.id)):
            if report.horizontal_accuracy > 250:
                continue
            status, place_id = classify(report)
            walk.observe(
                Observation(report.id, report.observed_at, status, place_id),
                departure_reports=departure_reports,
                departure_minutes=departure_minutes,
            )
    return walk


@pytest.mark.django_db
@pytest.mark.parametrize("seed", range(10))
def test_engine_equals_the_per_report_walk_on_random_journeys(world, make_place, seed):
    rng = random.Random(seed)
    departure_reports, departure_minutes = rng.choice([(1, 0), (2, 0), (3, 0), (3, 30.0)])
    spots = {
        "shop": make_place(world.run_a, DELIVERY, *VIENNA, radius_m=200, name="Shop"),
        "depot": make_place(
            world.run_a, STORAGE, *offset(*VIENNA, metres=5000), radius_m=200, name="Depot"
        ),
        "yard": make_place(
            world.run_a, STORAGE, *offset(*VIENNA, metres=10000), radius_m=200, name="Yard"
        ),
    }
    by_place = {place.pk: place for place in spots.values()}
    away = offset(*VIENNA, metres=20000, bearing=0)
    trackers = [TrackerFactory(production_run=world.run_a) for _ in range(12)]
    batches = {tracker.pk: [] for tracker in trackers}
    clock = dict.fromkeys(batches, 0.0)
    where = dict.fromkeys(batches, "away")

    def classify(report):
        for place in by_place.values():
            if report.point.distance(place.point) < 0.01:  # placed at the centre below
                kind = Status.DELIVERED if place.kind == DELIVERY else Status.IN_STORAGE
                return kind, place.pk
        return Status.IN_TRANSIT, None

    with override_settings(
        GEOFENCING_DEPARTURE_REPORTS=departure_reports,
        GEOFENCING_DEPARTURE_MINUTES=departure_minutes,
    ):
        for _ in range(4):
            for tracker in trackers:
                batch = []
                for _ in range(rng.randint(0, 6)):
                    if rng.random() < 0.3:  # elsewhere for a while, else where it was
                        where[tracker.pk] = rng.choice([*spots, "away"])
                    spot = where[tracker.pk]
                    clock[tracker.pk] += rng.choice([1, 5, 10, 20])
                    minutes = clock[tracker.pk]
                    if rng.random() < 0.15:
                        minutes -= rng.choice([15, 60, 240])  # a late arrival
                    lon, lat = away if spot == "away" else spots[spot].point.coords
                    accuracy = 900 if rng.random() < 0.1 else 20
                    batch.append(add_report(tracker, lon, lat, minutes=minutes, accuracy=accuracy))
                batches[tracker.pk].append(batch)
            services.evaluate_statuses()

    for tracker in trackers:
        expected = reference_walk(
            batches[tracker.pk],
            classify,
            departure_reports=departure_reports,
            departure_minutes=departure_minutes,
        )
        tracker = refreshed(tracker)
        state = TrackerGeoState.objects.filter(tracker=tracker).first()
        assert (tracker.status, tracker.status_changed_at) == (
            expected.status,
            expected.status_changed_at,
        )
        assert (state.place_id if state else None) == expected.place_id
        assert len(state.departure_streak if state else []) == len(expected.streak)
        recorded = list(
            StatusHistory.objects.filter(tracker=tracker)
            .order_by("at", "id")
            .values_list("from_status", "to_status", "place_id", "at", "report_id")
        )
        assert recorded == [
            (t.from_status, t.to_status, t.place_id, t.at, t.report_id)
            for t in expected.transitions
        ]
        # The place a change left is the previous change's place, as the history page shows.
        left = [None] + [place_id for _, _, place_id, _, _ in recorded[:-1]]
        assert left == [t.from_place_id for t in expected.transitions]


@pytest.mark.django_db
def test_the_engine_puts_its_planner_settings_back(world, tracker_a, make_place):
    make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    add_report(tracker_a, *VIENNA)
    names = ("jit", "work_mem", "join_collapse_limit")

    def current():
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(f"current_setting('{n}')" for n in names))
            return cursor.fetchone()

    before = current()
    services.evaluate_statuses()

    assert refreshed(tracker_a).status == Status.IN_STORAGE
    assert current() == before


@pytest.mark.django_db
def test_deleting_a_place_clears_it_from_history_and_state(world, tracker_a, make_place):
    depot = make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    add_report(tracker_a, *VIENNA)
    services.evaluate_statuses()
    assert TrackerGeoState.objects.get(tracker=tracker_a).place == depot

    depot.delete()

    assert history(tracker_a) == [(Status.UNKNOWN, Status.IN_STORAGE, None)]
    assert TrackerGeoState.objects.get(tracker=tracker_a).place is None
    assert refreshed(tracker_a).status == Status.IN_STORAGE


@pytest.mark.django_db(transaction=True)
def test_deleting_a_place_waits_for_a_running_evaluation(world, make_place):
    depot = make_place(world.run_a, STORAGE, *VIENNA, radius_m=200, name="Depot")
    settings_dict = connection.settings_dict
    # Another session in the middle of an evaluation: it holds the engine's lock.
    with psycopg.connect(
        dbname=settings_dict["NAME"],
        host=settings_dict["HOST"],
        port=settings_dict["PORT"],
        user=settings_dict["USER"],
    ) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s)", [services.LOCK_STATUS])
        with pytest.raises(OperationalError, match="lock timeout"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '200ms'")
            depot.delete()
        other.rollback()

    depot.delete()  # the evaluation is over: the place goes
    assert not Place.objects.filter(name="Depot").exists()

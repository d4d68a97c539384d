"""Roll-ups: incremental, equal to the raw reports, rebuildable."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from geofencing import services
from tracking.models import DailyRollup, HourlyRollup

from .conftest import add_report


def raw_buckets(unit: str) -> dict:
    with connection.cursor() as c:
        c.execute(
            f"SELECT tracker_id, date_trunc('{unit}', observed_at, 'UTC'), count(*),"
            " min(observed_at), max(observed_at), min(horizontal_accuracy),"
            " avg(ST_X(point::geometry)), avg(ST_Y(point::geometry))"
            " FROM tracking_locationreport GROUP BY 1, 2"
        )
        return {(r[0], r[1]): r[2:] for r in c.fetchall()}


def rolled(model) -> dict:
    return {
        (r.tracker_id, r.bucket): (
            r.report_count,
            r.first_observed_at,
            r.last_observed_at,
            r.best_accuracy_m,
            r.centroid.x,
            r.centroid.y,
        )
        for r in model.objects.all()
    }


def assert_rollups_match_raw():
    for unit, model in (("hour", HourlyRollup), ("day", DailyRollup)):
        raw, mine = raw_buckets(unit), rolled(model)
        assert raw.keys() == mine.keys()
        for key, (count, first, last, best, x, y) in raw.items():
            assert mine[key][:4] == (count, first, last, best), key
            assert mine[key][4] == pytest.approx(x, abs=1e-9)
            assert mine[key][5] == pytest.approx(y, abs=1e-9)


@pytest.mark.django_db
def test_rollup_counts_equal_raw_counts_across_incremental_runs(world, tracker_a):
    from tests.factories import TrackerFactory

    other = TrackerFactory(production_run=world.run_b)
    for i in range(30):  # 08:00 to 15:15, three trackers' worth of buckets
        add_report(tracker_a, 16.37 + i / 1000, 48.2, minutes=i * 15, accuracy=10 + i)
        add_report(other, -58.38, -34.6 - i / 1000, minutes=i * 40, accuracy=200 - i)
    first = services.rollup_locations()
    assert first.reports == 60
    assert_rollups_match_raw()

    # New reports into buckets that already hold rows, and into new ones.
    for i in range(10):
        add_report(tracker_a, 16.5, 48.3, minutes=i * 50 + 7, accuracy=5)
    add_report(other, -58.0, -34.0, minutes=60 * 30)
    second = services.rollup_locations()
    assert second.reports == 11
    assert_rollups_match_raw()
    assert sum(HourlyRollup.objects.values_list("report_count", flat=True)) == 71
    assert sum(DailyRollup.objects.values_list("report_count", flat=True)) == 71


@pytest.mark.django_db
def test_rollup_twice_changes_nothing_and_rebuild_gives_the_same(world, tracker_a):
    for i in range(12):
        add_report(tracker_a, 16.37, 48.2 + i / 100, minutes=i * 25)
    services.rollup_locations()
    before = rolled(HourlyRollup), rolled(DailyRollup)
    assert services.rollup_locations().reports == 0
    assert (rolled(HourlyRollup), rolled(DailyRollup)) == before

    call_command("rollup_locations", "--rebuild", stdout=io.StringIO())
    after = rolled(HourlyRollup), rolled(DailyRollup)
    assert after[0].keys() == before[0].keys()
    assert_rollups_match_raw()


@pytest.mark.django_db
def test_deleting_a_tracker_deletes_its_rollups(world, tracker_a):
    for i in range(5):
        add_report(tracker_a, 16.37, 48.2, minutes=i * 90)
    services.rollup_locations()
    assert HourlyRollup.objects.filter(tracker=tracker_a).count() == 5
    tracker_a.delete()
    assert not HourlyRollup.objects.exists()
    assert not DailyRollup.objects.exists()

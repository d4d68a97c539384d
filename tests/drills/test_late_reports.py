"""Drill: finders publish some reports long after they observed them."""

import time

import pytest
from django.db.models import Sum

from findmy.models import FetchRun
from tracking.models import LocationReport, Tracker

from .harness import tally, wait_until

LATE_SECONDS = 20


@pytest.mark.drill
def test_drill_late_published_reports_are_collected_once(rig, fleet):
    """A third of the reports (one every 5 s per tracker) reach the simulator 20 s after they
    were observed, while each tracker is fetched every 3 s. The fetch window reaches back
    FINDMY_LATE_REPORT_HOURS (set to 30 s here: the delay plus the fetch interval and some
    slack; 6 h by default) before the newest report, so each late report is still collected;
    the overlap is re-sent every time and deduplication keeps it out of the table.

    Beyond served-versus-stored, the drill checks every report published in time against the
    table, so a late report the window never reached counts as lost too."""
    trackers = fleet(8, started_minutes_ago=2)
    rig.settings["FINDMY_LATE_REPORT_HOURS"] = str(30 / 3600)
    sim = rig.start_simulator(
        report_interval_seconds=5, late_fraction=0.34, late_seconds=LATE_SECONDS
    )
    run_start = int(trackers[0].production_run.starts_at.timestamp()) + 1
    rig.start_celery()
    wait_until(LocationReport.objects.exists, 90, "the first reports")
    time.sleep(LATE_SECONDS * 1.5)
    cutoff = int(time.time())
    time.sleep(8)  # every report published by the cutoff had two fetch intervals to arrive
    rig.settle()

    stored = {
        (tracker_id, int(at.timestamp()))
        for tracker_id, at in LocationReport.objects.values_list("tracker_id", "observed_at")
    }
    published, late = set(), 0
    for tracker in Tracker.objects.filter(pk__in=[t.pk for t in trackers]):
        key = tracker.hashed_advertisement_key
        for at in sim.published_times(key, run_start, cutoff, cutoff):
            published.add((tracker.pk, at))
            late += sim.published_at(key, at) > at
    missing = published - stored
    assert late > 0
    overlap = FetchRun.objects.aggregate(n=Sum("reports_duplicate"))["n"]
    result = tally(
        "late-reports",
        sim,
        published_in_time=len(published),
        late=late,
        late_missing=len(missing),
        overlap_resent=overlap,
    )
    assert not missing, sorted(missing)[:5]
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)

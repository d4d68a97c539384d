"""Drill: Apple cuts answers for several keys at 20 to 40 reports."""

import pytest
from django.utils import timezone

from findmy.models import FetchRun, TrackerFetchState

from .harness import tally, wait_until


@pytest.mark.drill
def test_drill_cut_answers_are_asked_again_in_smaller_requests_without_misses(rig, fleet):
    """The simulator answers every request for several keys with only its first N reports (N
    drawn from 20 to 40), so the later keys get nothing. 20 trackers with 10 minutes of
    history each (a report a minute) are asked for 20 at a time. The keys a cut answer left
    out are not misses: they are asked again in groups of at most 5, each request through the
    account's rate limit (1 s apart here), until every report served is stored once."""
    trackers = fleet(20, started_minutes_ago=10)
    rig.settings["FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS"] = "1"
    sim = rig.start_simulator(report_interval_seconds=60, cut_answers=(20, 40))
    started = timezone.now()
    rig.start_celery()
    wait_until(
        lambda: TrackerFetchState.objects.filter(last_success_at__isnull=False).count() == 20,
        120,
        "every tracker to be answered",
    )
    rig.wait_all_fetched_since(started, trackers, timeout=60)
    rig.settle()

    assert sim.counters["cut"] >= 1
    sizes = [len(r["ids"]) for r in sim.requests]
    assert max(sizes) == 20 and min(sizes) <= 5, sizes
    # The account is taken for each request and FetchRun.started_at follows a query later, so
    # the gaps carry that query's jitter on a busy machine; without the limit they are ~0.2 s.
    times = list(FetchRun.objects.order_by("started_at").values_list("started_at", flat=True))
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.9, "two requests of the one account closer than its rate limit"
    misses = sum(TrackerFetchState.objects.values_list("misses_total", flat=True))
    assert misses == 0, "a key left out of a cut answer counted as a miss"
    result = tally(
        "partial-answers",
        sim,
        cut_answers=sim.counters["cut"],
        requests=len(sizes),
        smallest_request=min(sizes),
        closest_requests_s=round(min(gaps), 2),
        tracker_misses=misses,
    )
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)

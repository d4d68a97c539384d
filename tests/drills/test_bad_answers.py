"""Drill: damaged reports, an answer cut in the middle of its JSON, and a 50 MB answer."""

import pytest
from django.db.models import Sum

from findmy.models import FetchRun, TrackerFetchState
from tracking.models import LocationReport

from .harness import tally, wait_until


@pytest.mark.drill
def test_drill_corrupt_truncated_and_oversized_answers_are_counted_and_bounded(rig, fleet):
    """A tenth of the simulator's reports are damaged (their GCM tag no longer fits); then one
    answer stops halfway through its JSON and one goes on for 50 MB without a Content-Length.

    Damaged reports are counted as undecryptable and not stored; the truncated answer is a
    transient error and the oversized one stops being read at FINDMY_MAX_RESPONSE_BYTES (16 MB,
    the default) and is a `too_large` error; both rest the account, neither is a tracker's
    miss; everything good that was served is stored once."""
    trackers = fleet(12)
    sim = rig.start_simulator(bad_payload_rate=0.1)
    rig.start_celery()
    wait_until(LocationReport.objects.exists, 90, "the first reports")
    sim.force("truncated", "oversized")
    wait_until(
        lambda: FetchRun.objects.filter(error_kind="too_large").exists(), 60, "the big answer"
    )
    after = FetchRun.objects.order_by("-pk").first().started_at
    rig.wait_all_fetched_since(after, trackers, timeout=90)
    rig.settle()

    kinds = set(FetchRun.objects.exclude(error_kind="").values_list("error_kind", flat=True))
    assert {"transient", "too_large"} <= kinds
    truncated = FetchRun.objects.filter(error__contains="not JSON").count()
    assert truncated >= 1
    sent = sim.counters["oversized_bytes_sent"]
    assert 16 * 1024 * 1024 <= sent < 50_000_000, sent  # read up to the cap, no further
    damaged = sum(len(p) for p in sim.damaged.values())
    counted = FetchRun.objects.aggregate(n=Sum("reports_undecryptable"))["n"]
    assert damaged > 0 and counted >= damaged  # each damaged report counted every time sent
    misses = sum(TrackerFetchState.objects.values_list("misses_total", flat=True))
    assert misses == 0
    result = tally(
        "corrupt-truncated-oversized",
        sim,
        damaged=damaged,
        undecryptable_counted=counted,
        truncated_answers=truncated,
        oversized_read_mb=round(sent / 1e6, 1),
        tracker_misses=misses,
    )
    assert result["served"] > 0
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)

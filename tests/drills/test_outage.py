"""Drill: the anisette server and Apple's fetch service (the simulator serves both) are down."""

import time

import pytest
from django.utils import timezone

from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from tracking.models import LocationReport

from .conftest import outage_seconds
from .harness import tally, wait_until


@pytest.mark.drill
def test_drill_apple_and_anisette_down_accounts_back_off_and_recover_no_tracker_penalised(
    rig, fleet
):
    """The simulator (fetch service and anisette server on one port) stops for
    DRILL_OUTAGE_SECONDS: 300 s under `make drills`, 5 s in `make test`. Requests fail with
    connection errors; the two accounts back off (1 s doubling to 8 s here, 1 min to 1 h by
    default) and are tried again by themselves; when the simulator is back they recover to OK
    without staff. No tracker counts a miss, and every report served is stored once."""
    outage = outage_seconds()
    trackers = fleet(12, accounts=2)
    sim = rig.start_simulator()
    rig.start_celery()
    wait_until(LocationReport.objects.exists, 90, "the first reports")

    rig.stop_simulator()
    down_at = timezone.now()
    wait_until(
        lambda: AppleAccount.objects.filter(health=AppleAccount.Health.BACKING_OFF).exists(),
        60,
        "an account to back off",
    )
    time.sleep(max(0.0, outage - (timezone.now() - down_at).total_seconds()))
    rig.restart_simulator()
    up_at = timezone.now()
    rig.wait_all_fetched_since(up_at, trackers, timeout=120)
    wait_until(
        lambda: not AppleAccount.objects.exclude(health=AppleAccount.Health.OK).exists(),
        60,
        "every account to recover",
    )
    rig.settle()

    failed = FetchRun.objects.filter(started_at__gte=down_at, started_at__lt=up_at)
    assert failed.exclude(error_kind="").exists()
    assert not failed.filter(error_kind="").exists()  # nothing was answered while down
    assert all(a.errors_total > 0 for a in AppleAccount.objects.all())
    misses = sum(TrackerFetchState.objects.values_list("misses_total", flat=True))
    assert misses == 0, "a tracker was blamed for the outage"
    result = tally(
        "outage",
        sim,
        outage_s=int(outage),
        failed_requests=failed.count(),
        recovered_s=round((timezone.now() - up_at).total_seconds()),
        tracker_misses=misses,
    )
    assert result["served"] > 0
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)

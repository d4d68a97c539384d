"""Drill: the Celery worker is killed (SIGKILL) while it waits for an answer."""

import time

import pytest
from django.utils import timezone

from findmy.models import TrackerFetchState
from tracking.models import LocationReport

from .harness import tally, wait_until


@pytest.mark.drill
def test_drill_worker_killed_mid_fetch_loses_and_duplicates_nothing(rig, fleet):
    """Beat and a worker fetch 20 trackers; the simulator answers one request slowly and the
    worker (its whole process group) is killed while it waits. The dead worker's claims stay
    leased until FINDMY_CLAIM_LEASE_SECONDS (5 s here) has passed; a new worker then fetches
    them again, and every report the simulator served is stored exactly once."""
    trackers = fleet(20)
    sim = rig.start_simulator()
    rig.start_celery()
    wait_until(LocationReport.objects.exists, 90, "the first reports")

    sim.config.slow_seconds = 4
    sim.force("slow")
    wait_until(lambda: any(r["fault"] == "slow" for r in sim.requests), 30, "a slow request")
    time.sleep(0.5)
    rig.worker.kill()
    killed_at = timezone.now()
    orphaned = TrackerFetchState.objects.filter(claimed_until__gt=killed_at).count()
    assert orphaned > 0, "the worker was killed holding no claim"

    rig.worker.start()
    rig.wait_all_fetched_since(killed_at, trackers, timeout=90)
    rig.settle()
    result = tally("worker-killed", sim, claims_left_by_the_dead_worker=orphaned)
    assert result["served"] > 0
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)

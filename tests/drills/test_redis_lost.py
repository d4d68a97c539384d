"""Drill: Redis, the broker, is flushed and then restarted."""

import time

import pytest
from django.utils import timezone

from findmy.models import FetchRun, TrackerFetchState

from .harness import tally, wait_until

DOWN_SECONDS = 5


@pytest.mark.drill
def test_drill_redis_flushed_and_restarted_fetching_resumes_and_backoff_is_kept(rig, fleet):
    """The drill's own redis-server (never the shared one) is flushed (every queued task
    gone), shut down for 5 s and started again empty. Beat and the worker reconnect by
    themselves and fetching goes on. Back-off lives in PostgreSQL, so the four silent
    trackers keep theirs: none is reset, none is fetched before it was due."""
    trackers = fleet(12)
    silent = trackers[:4]
    sim = rig.start_simulator(silent_keys={t.hashed_advertisement_key for t in silent})
    rig.start_celery()
    silent_states = TrackerFetchState.objects.filter(tracker__in=silent)
    wait_until(
        lambda: silent_states.filter(backoff_factor__gte=4).count() == len(silent),
        90,
        "the silent trackers to back off twice",
    )
    snapshot_at = timezone.now()
    before = {s.tracker_id: s for s in silent_states}

    rig.redis.cli("flushall")
    rig.redis.stop()
    time.sleep(DOWN_SECONDS)
    rig.redis.start()
    restarted_at = timezone.now()
    rig.wait_all_fetched_since(restarted_at, trackers[4:], timeout=90)
    # The silent ones are asked again when their back-off says so, and it goes on doubling.
    wait_until(
        lambda: all(
            s.backoff_factor >= 2 * before[s.tracker_id].backoff_factor for s in silent_states.all()
        ),
        90,
        "the silent trackers' next miss",
    )
    assert FetchRun.objects.filter(started_at__gt=restarted_at, error_kind="").exists()
    rig.settle()
    assert "Connection to broker lost" in rig.worker.log() or "Cannot connect" in (rig.worker.log())

    for state in silent_states.all():
        old = before[state.tracker_id]
        assert state.backoff_factor >= old.backoff_factor, "a back-off was reset"
        assert state.consecutive_misses >= old.consecutive_misses
        assert state.misses_total >= old.misses_total
        if state.last_fetched_at and state.last_fetched_at > snapshot_at:
            assert state.last_fetched_at >= old.next_due_at, "fetched before it was due"
    result = tally(
        "redis-flushed-restarted",
        sim,
        silent_backoff_factors="/".join(str(s.backoff_factor) for s in silent_states.all()),
    )
    assert result["served"] > 0
    assert (result["lost"], result["duplicated"], result["foreign"]) == (0, 0, 0)

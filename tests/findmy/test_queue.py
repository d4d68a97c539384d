"""The fetch queue's SQL picks exactly the trackers TrackerQuerySet.fetchable names.

The queue writes the rule (ACTIVE, in a production run that is live now) in its own SQL, for
the claim's single statement; these tests hold it to the queryset on data that varies every
part of the rule, the boundaries of a run included.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from findmy import queue
from findmy.models import TrackerFetchState
from tests.factories import ProductionRunFactory, TrackerFactory
from tracking.models import ProductionRun, Tracker


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def varied(db, now):
    """Trackers in every lifecycle state, in runs ended, live, upcoming or live only at the
    boundary (starting or ending exactly now), and trackers without a run."""
    day = timedelta(days=1)
    runs = [
        ProductionRunFactory(starts_at=now - 10 * day, ends_at=now - day),  # ended
        ProductionRunFactory(starts_at=now - day, ends_at=now + day),  # live
        ProductionRunFactory(starts_at=now + day, ends_at=now + 10 * day),  # upcoming
        ProductionRunFactory(starts_at=now, ends_at=now + day),  # starts now
        ProductionRunFactory(starts_at=now - day, ends_at=now),  # ends now
        ProductionRunFactory(starts_at=now - day, ends_at=now - timedelta(seconds=1)),
    ]
    for state in Tracker.Lifecycle:
        for run in [*runs, None]:
            TrackerFactory(lifecycle_state=state, production_run=run)
    return runs


def _fetchable(now) -> set[int]:
    return set(Tracker.objects.fetchable(at=now).values_list("pk", flat=True))


def test_fetchable_is_active_trackers_of_live_runs(varied, now):
    live = set(ProductionRun.objects.live(at=now))
    assert live == {varied[1], varied[3], varied[4]}
    assert _fetchable(now) == set(
        Tracker.objects.filter(
            lifecycle_state=Tracker.Lifecycle.ACTIVE, production_run__in=live
        ).values_list("pk", flat=True)
    )


def test_queue_rows_are_made_for_exactly_the_fetchable_trackers(varied, now):
    queue.ensure_fetch_states(now=now)
    made = set(TrackerFetchState.objects.values_list("tracker_id", flat=True))
    assert made == _fetchable(now) and len(made) == 3


def test_claims_take_exactly_the_fetchable_trackers_of_the_queue(varied, now):
    # Every tracker has a due queue row (as if each had been fetchable once): the claim
    # still takes only the fetchable ones.
    TrackerFetchState.objects.bulk_create(
        TrackerFetchState(tracker=t, next_due_at=now - timedelta(minutes=1))
        for t in Tracker.objects.all()
    )
    claims = queue.claim_trackers(limit=1000, now=now, worker="w")
    assert {c.tracker_id for c in claims} == _fetchable(now)

    # Named trackers (a manual fetch): the same rule applies.
    everyone = list(Tracker.objects.values_list("pk", flat=True))
    claims = queue.claim_trackers(limit=1000, now=now, worker="w2", tracker_ids=everyone)
    assert claims == []  # all fetchable ones are leased to "w" already
    queue.release_trackers(tracker_ids=everyone, worker="w")
    claims = queue.claim_trackers(limit=1000, now=now, worker="w2", tracker_ids=everyone)
    assert {c.tracker_id for c in claims} == _fetchable(now)

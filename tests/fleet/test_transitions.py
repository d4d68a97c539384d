import random

import pytest
from django.db import transaction

from fleet import services
from fleet.exceptions import LifecycleError
from fleet.services.lifecycle import move
from tests.factories import TrackerFactory
from tests.fleet.factories import CustomerOrderFactory
from tests.fleet.support import macs
from tracking.models import AuditEvent, Tracker

L = Tracker.Lifecycle


# The lifecycle in its order; the rules below are the ones ARCHITECTURE.md states.
ORDER = [L.GENERATED, L.EXPORTED, L.IN_STOCK, L.ALLOCATED, L.ACTIVE, L.RETIRED]


@pytest.mark.parametrize("seed", range(4))
def test_random_walks_of_legal_moves_keep_to_the_lifecycle(db, seed):
    """Random moves on a stored tracker: whatever moves, the lifecycle runs forward one step
    at a time (retirement from anywhere, a cancelled order back to stock, a move to a new
    run), nothing returns to GENERATED and nothing leaves RETIRED."""
    rng = random.Random(seed)
    tracker = TrackerFactory(lifecycle_state=L.GENERATED)
    trackers = Tracker.objects.filter(pk=tracker.pk)
    state = L.GENERATED
    for _ in range(60):
        target = rng.choice(list(L))
        try:
            trackers.transition(target)
        except KeyError:
            assert target == L.GENERATED  # no move leads back to the start
        after = trackers.get().lifecycle_state
        if after != state:
            step = ORDER.index(after) - ORDER.index(state)
            assert step == 1 or after == L.RETIRED or (state, after) == (L.ALLOCATED, L.IN_STOCK), (
                state,
                after,
            )
            assert state != L.RETIRED
        state = after
    assert state == L.RETIRED  # sixty random tries always reach the end


def test_every_state_is_reached_by_some_walk(db):
    reached = set()
    for seed in range(40):
        rng = random.Random(seed)
        trackers = Tracker.objects.filter(pk=TrackerFactory(lifecycle_state=L.GENERATED).pk)
        for _ in range(20):
            target = rng.choice([t for t in L if t != L.GENERATED])
            trackers.transition(target)
            reached.add(trackers.get().lifecycle_state)
    assert reached == set(L)


@pytest.mark.parametrize("source", list(L))
@pytest.mark.parametrize("target", list(Tracker.TRANSITIONS))
def test_transition_moves_only_from_legal_sources(db, source, target):
    tracker = TrackerFactory(lifecycle_state=source)
    moved = Tracker.objects.filter(pk=tracker.pk).transition(target)
    tracker.refresh_from_db()
    if source in Tracker.TRANSITIONS[target]:
        assert (moved, tracker.lifecycle_state) == (1, target)
    else:
        assert (moved, tracker.lifecycle_state) == (0, source)


def test_move_rolls_back_when_a_tracker_is_in_the_wrong_state(db, unchanged):
    ok, wrong = TrackerFactory(lifecycle_state=L.EXPORTED), TrackerFactory(lifecycle_state=L.ACTIVE)
    check = unchanged()
    with (
        pytest.raises(LifecycleError, match="1 of 2 trackers could not move to IN_STOCK"),
        transaction.atomic(),
    ):
        move([ok.pk, wrong.pk], L.IN_STOCK)
    check()


def test_tracker_retire_takes_trackers_out_and_frees_the_order(world, stock):
    order = CustomerOrderFactory(client=world.client_a, quantity=2)
    trackers = stock(2)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)

    assert (
        services.tracker_retire(
            macs_text=trackers[0].mac_address, user=world.staff, reason="broken"
        )
        == 1
    )
    order.refresh_from_db()
    assert order.status == "OPEN"
    assert Tracker.objects.get(pk=trackers[0].pk).lifecycle_state == L.RETIRED
    assert AuditEvent.objects.get(action="trackers.retire").details["reason"] == "broken"
    with pytest.raises(LifecycleError, match="is already retired"):
        services.tracker_retire(macs_text=trackers[0].mac_address, user=world.staff)

"""The walk over islands (runs of alike reports) gives what the walk over single reports gives.

The status engine collapses consecutive reports classified alike into one island in SQL and
walks islands; these tests walk random report sequences both ways, split into random batches
with the state carried over (through its JSON form, as the engine stores it), and compare.
"""

import random
from datetime import UTC, datetime, timedelta

import pytest

from geofencing.transitions import (
    DELIVERED,
    IN_STORAGE,
    IN_TRANSIT,
    UNKNOWN,
    Observation,
    TrackerWalk,
    islands,
)

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
# (status, place): two delivery places, two storage places, transit.
CLASSES = [
    (DELIVERED, 1),
    (DELIVERED, 2),
    (IN_STORAGE, 3),
    (IN_STORAGE, 4),
    (IN_TRANSIT, None),
]


def random_reports(rng: random.Random, n: int, first_id: int, start: datetime) -> list:
    """n reports in observed_at order with sticky classifications (long islands are common)."""
    reports, cls, at = [], rng.choice(CLASSES), start
    for i in range(n):
        if rng.random() < 0.35:
            cls = rng.choice(CLASSES)
        at += timedelta(minutes=rng.choice([0, 1, 5, 10, 20, 45]))
        reports.append(Observation(first_id + i, at, cls[0], cls[1]))
    return reports


def stored(walk: TrackerWalk) -> TrackerWalk:
    """The walk's state as the engine stores and reloads it between runs."""
    return TrackerWalk(
        status=walk.status,
        place_id=walk.place_id,
        place_since=walk.place_since,
        status_changed_at=walk.status_changed_at,
        streak=[Observation.from_json(item.to_json()) for item in walk.streak],
    )


def outcome(walk: TrackerWalk) -> tuple:
    streak = walk.streak
    return (
        walk.status,
        walk.place_id,
        walk.place_since,
        walk.status_changed_at,
        walk.transitions,
        walk.skipped_late,
        len(streak),
        # The first and last streak reports are exact; those between may stand for a whole
        # island (they only ever count, and never date a change).
        (streak[0].report_id, streak[0].observed_at, streak[-1].observed_at) if streak else None,
    )


def per_report(walk: TrackerWalk, batch: list, reports: int, minutes: float) -> None:
    for obs in batch:
        walk.observe(obs, departure_reports=reports, departure_minutes=minutes)


def per_island(walk: TrackerWalk, batch: list, reports: int, minutes: float) -> None:
    for island in islands(batch, horizon=walk.horizon()):
        walk.observe_island(island, departure_reports=reports, departure_minutes=minutes)


@pytest.mark.parametrize("seed", range(400))
def test_island_walk_equals_report_walk(seed):
    rng = random.Random(seed)
    reports = rng.choice([1, 2, 2, 3, 4])
    minutes = rng.choice([0.0, 0.0, 15.0, 30.0, 90.0])
    start_status, start_place = rng.choice([(UNKNOWN, None), *CLASSES])
    changed = None if start_status == UNKNOWN else T0
    by_report = TrackerWalk(start_status, start_place, changed if start_place else None, changed)
    by_island = TrackerWalk(start_status, start_place, changed if start_place else None, changed)

    next_id, at = 1, T0 - timedelta(minutes=rng.choice([0, 30, 120]))
    for _ in range(rng.randint(1, 4)):
        batch = random_reports(rng, rng.randint(1, 12), next_id, at)
        next_id += len(batch) + 1
        at = batch[-1].observed_at
        if rng.random() < 0.3:  # late arrivals from the finder network, walked in time order
            late = random_reports(rng, rng.randint(1, 3), next_id, at - timedelta(hours=3))
            next_id += len(late) + 1
            batch = sorted(batch + late, key=lambda o: (o.observed_at, o.report_id))

        per_report(by_report, batch, reports, minutes)
        per_island(by_island, batch, reports, minutes)
        assert outcome(by_island) == outcome(by_report), (seed, batch)
        by_report, by_island = stored(by_report), stored(by_island)


def test_islands_split_on_classification_and_on_the_horizon():
    a, b = (DELIVERED, 1), (IN_TRANSIT, None)
    times = [T0 + timedelta(minutes=m) for m in (0, 10, 20, 30, 40, 50)]
    classes = [a, a, a, b, b, a]
    batch = [Observation(i + 1, t, *c) for i, (t, c) in enumerate(zip(times, classes, strict=True))]

    got = list(islands(batch, horizon=T0 + timedelta(minutes=15)))

    assert [(i.first.report_id, i.count, i.last_observed_at, i.late) for i in got] == [
        (1, 2, times[1], True),
        (3, 1, times[2], False),
        (4, 2, times[4], False),
        (6, 1, times[5], False),
    ]


def test_a_late_prefix_is_skipped_but_the_rest_of_its_island_is_walked():
    """Reports between the last status change and a pending streak's last report are late; an
    island straddling that horizon must not drag the reports after it into the skip."""
    away = (IN_TRANSIT, None)
    walk = TrackerWalk(IN_STORAGE, 3, T0, T0)
    walk.observe(Observation(1, T0 + timedelta(minutes=30), *away), departure_reports=2,
                 departure_minutes=0)  # fmt: skip
    assert len(walk.streak) == 1
    batch = [
        Observation(2, T0 + timedelta(minutes=20), *away),  # older than the pending streak
        Observation(3, T0 + timedelta(minutes=40), *away),
    ]
    for island in islands(batch, horizon=walk.horizon()):
        walk.observe_island(island, departure_reports=2, departure_minutes=0)

    assert walk.skipped_late == 1
    assert walk.status == IN_TRANSIT
    assert walk.status_changed_at == T0 + timedelta(minutes=30)

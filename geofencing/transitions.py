"""The status walk of one tracker over its classified reports, in observed_at order.

No database access: the status engine (services.evaluate_statuses) classifies every new
report in SQL (which place it is in, if any) and streams the rows here, one tracker after the
other. The rules:

* Priority DELIVERED > IN_STORAGE > IN_TRANSIT. Arriving somewhere (from UNKNOWN or IN_TRANSIT)
  and moving up (IN_STORAGE -> DELIVERED) take effect at once, at the report's time.
* Anything else leaves the current place (to transit, to a lower kind, or to another place of
  the same kind) and is debounced: the departure is confirmed only when `departure_reports`
  consecutive accurate reports were outside the place, or (when `departure_minutes` is set)
  when those outside reports span that many minutes. A report back inside cancels the streak.
* A confirmed departure is dated by the *first* report of the streak (that is when the tracker
  left); the rest of the streak is then replayed from the new state, so a tracker that went
  from a place into transit and on to another place gets both changes, in order. Arriving at a
  higher-priority place while a departure is pending confirms that departure the same way.
* Reports older than the tracker's last status change, or than a pending departure streak,
  (late arrivals from the finder network) are skipped: history is never rewritten.

The engine sends islands rather than single reports: consecutive reports (in observed_at order)
with the same classification and lateness collapse into one `Island` (first report, count,
last time), which is all the rules need, so the walk costs per change of place, not per report.
`islands` is the reference for that collapse (the engine does it in SQL with window functions);
tests/geofencing/test_transitions.py checks that walking islands gives what walking every
report gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from tracking.models import Tracker

# The status values as the plain strings the engine's rows and the stored streaks carry.
UNKNOWN = Tracker.Status.UNKNOWN.value
IN_TRANSIT = Tracker.Status.IN_TRANSIT.value
IN_STORAGE = Tracker.Status.IN_STORAGE.value
DELIVERED = Tracker.Status.DELIVERED.value

PRIORITY = {UNKNOWN: 0, IN_TRANSIT: 1, IN_STORAGE: 2, DELIVERED: 3}


# The values the walk passes around are named tuples: immutable, and built several times
# per tracker on the engine's hot path, where a frozen dataclass costs twice as much.


class Observation(NamedTuple):
    report_id: int
    observed_at: datetime
    status: str
    place_id: int | None

    def to_json(self) -> list:
        return [self.report_id, self.observed_at.isoformat(), self.status, self.place_id]

    @classmethod
    def from_json(cls, item: list) -> Observation:
        return cls(item[0], datetime.fromisoformat(item[1]), item[2], item[3])


class Transition(NamedTuple):
    from_status: str
    to_status: str
    from_place_id: int | None
    place_id: int | None
    at: datetime
    report_id: int


class Island(NamedTuple):
    """Consecutive reports of one tracker classified alike: the first one, how many, the last
    one's time, and whether they are all older than the walk's horizon (late)."""

    first: Observation
    count: int
    last_observed_at: datetime
    late: bool = False


def islands(reports: Iterable[Observation], *, horizon: datetime | None) -> Iterator[Island]:
    """Collapse reports (sorted by observed_at, then id) into islands; `horizon` is the walk's
    horizon before them (TrackerWalk.horizon()): reports older than it are late."""
    first: Observation | None = None
    count = 0
    last_at = None
    late = False
    for obs in reports:
        obs_late = horizon is not None and obs.observed_at < horizon
        same = first is not None and (obs.status, obs.place_id) == (first.status, first.place_id)
        if same and obs_late == late:
            count += 1
            last_at = obs.observed_at
            continue
        if first is not None:
            yield Island(first, count, last_at, late)
        first, count, last_at, late = obs, 1, obs.observed_at, obs_late
    if first is not None:
        yield Island(first, count, last_at, late)


@dataclass(slots=True)
class TrackerWalk:
    """The state of one tracker while its new reports are walked."""

    status: str
    place_id: int | None
    place_since: datetime | None
    status_changed_at: datetime | None
    streak: list[Observation] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    skipped_late: int = 0

    def horizon(self) -> datetime | None:
        """Reports older than this are late: the last pending departure report, else the last
        status change."""
        return self.streak[-1].observed_at if self.streak else self.status_changed_at

    def observe(
        self,
        obs: Observation,
        *,
        departure_reports: int,
        departure_minutes: float,
        count: int = 1,
        last_observed_at: datetime | None = None,
    ) -> None:
        """One report, or a run of `count` reports classified alike from obs to
        last_observed_at (late when obs is older than the horizon)."""
        horizon = self.horizon()
        late = horizon is not None and obs.observed_at < horizon
        island = Island(obs, count, last_observed_at or obs.observed_at, late)
        self.observe_island(
            island, departure_reports=departure_reports, departure_minutes=departure_minutes
        )

    def observe_island(
        self, island: Island, *, departure_reports: int, departure_minutes: float
    ) -> None:
        """An island of reports. Walks its first report, then repeats while a departure is
        pending (the repeats only lengthen the streak: a confirmed departure is dated by the
        streak's first report, which is exact). The repeats between the first and the last
        stand in with the first report's id and time; the last repeat carries the last time,
        so the minutes rule sees the island's full span. Every repeat either clears the streak
        (back inside), extends it, or confirms it, so the loop ends within the streak's length
        plus departure_reports steps whatever the island's size."""
        if island.late:
            self.skipped_late += island.count
            return
        obs = island.first
        self._step(obs, departure_reports, departure_minutes)
        remaining = island.count - 1
        while remaining and self.streak:
            remaining -= 1
            at = obs.observed_at if remaining else island.last_observed_at
            self._step(
                Observation(obs.report_id, at, obs.status, obs.place_id),
                departure_reports,
                departure_minutes,
            )

    def _step(self, obs: Observation, departure_reports: int, departure_minutes: float) -> None:
        if obs.status == self.status and obs.place_id == self.place_id:
            self.streak.clear()  # still where it was: any departure streak was noise
            return
        if self.status in (UNKNOWN, IN_TRANSIT) or PRIORITY[obs.status] > PRIORITY[self.status]:
            if self.streak:
                # Arriving at a better place confirms the departure that was pending.
                self._confirm_departure([*self.streak, obs], departure_reports, departure_minutes)
            else:
                self._change(obs)
            return
        self.streak.append(obs)
        spans_minutes = departure_minutes > 0 and (
            obs.observed_at - self.streak[0].observed_at >= timedelta(minutes=departure_minutes)
        )
        if len(self.streak) >= departure_reports or spans_minutes:
            self._confirm_departure(self.streak, departure_reports, departure_minutes)

    def _confirm_departure(
        self, streak: list[Observation], departure_reports: int, departure_minutes: float
    ) -> None:
        first, *rest = streak
        self.streak = []
        self._change(first)
        for later in rest:
            self._step(later, departure_reports, departure_minutes)

    def _change(self, obs: Observation) -> None:
        self.transitions.append(
            Transition(
                from_status=self.status,
                to_status=obs.status,
                from_place_id=self.place_id,
                place_id=obs.place_id,
                at=obs.observed_at,
                report_id=obs.report_id,
            )
        )
        self.status = obs.status
        self.place_id = obs.place_id
        self.place_since = obs.observed_at if obs.place_id is not None else None
        self.status_changed_at = obs.observed_at

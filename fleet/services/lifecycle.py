"""What every lifecycle service shares: the one mover, row locks, the audit row."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tracking.models import AuditEvent, Client, Tracker

from ..exceptions import LifecycleError
from ..parsing import MacLine

Lifecycle = Tracker.Lifecycle


def actor(user):
    return user if user is not None and user.is_authenticated else None


def audit(
    *, action: str, user, target: str = "", client: Client | None = None, **details
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action, actor=actor(user), client=client, target=target[:200], details=details
    )


def move(tracker_ids: list[int], target: str, **changes) -> None:
    """The one lifecycle mover: a single conditional UPDATE, all rows or none."""
    moved = Tracker.objects.filter(pk__in=tracker_ids).transition(target, **changes)
    if moved != len(tracker_ids):
        # Validation ran under row locks, so this is a bug or a write that bypassed them.
        raise LifecycleError(
            f"{len(tracker_ids) - moved} of {len(tracker_ids)} trackers could not move to "
            f"{target}: their state changed meanwhile; nothing was changed"
        )


def lock_trackers(macs: Iterable[str]) -> dict[str, Tracker]:
    rows = (
        Tracker.objects.select_for_update(of=("self",))
        .filter(mac_address__in=list(macs))
        .select_related("client", "production_run")
        .only(
            "id",
            "mac_address",
            "lifecycle_state",
            "client",
            "client__name",
            "production_run",
            "production_run__name",
            "production_run__starts_at",
            "production_run__ends_at",
        )
    )
    return {t.mac_address: t for t in rows}


def refuse(line: MacLine, reason: str) -> str:
    if line.line:
        return line.refuse(reason)
    return f'tracker "{line.mac}" {reason}'


def refusals(
    lines: Iterable[MacLine],
    trackers: dict[str, Tracker],
    objection: Callable[[Tracker], str | None],
) -> list[str]:
    """One message per line that can't go ahead: an unknown MAC, or what `objection` says
    against its tracker (None when it has nothing against it)."""
    errors = []
    for line in lines:
        tracker = trackers.get(line.mac)
        reason = "is not a known tracker" if tracker is None else objection(tracker)
        if reason:
            errors.append(refuse(line, reason))
    return errors

"""Trackers in and out of service: receipt from the manufacturer, import into a production
run, retirement."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tracking.models import ProductionRun, Tracker

from ..exceptions import LifecycleError
from ..models import Allocation, CustomerOrder
from ..parsing import MacLine, parse_mac_list
from .lifecycle import Lifecycle, audit, lock_trackers, move, refusals
from .orders import lock_order, refresh_order_status


@transaction.atomic
def devices_receive(*, macs_text: bytes | str, user=None) -> int:
    """Devices back from the manufacturer: their trackers move EXPORTED -> IN_STOCK."""
    lines = parse_mac_list(macs_text)
    trackers = lock_trackers(line.mac for line in lines)

    def objection(tracker: Tracker) -> str | None:
        state = tracker.lifecycle_state
        if state == Lifecycle.IN_STOCK:
            return "is already in stock"
        if state == Lifecycle.GENERATED:
            return "has not been exported to the manufacturer yet"
        if state != Lifecycle.EXPORTED:
            return f"is not awaiting receipt (state {state})"
        return None

    errors = refusals(lines, trackers, objection)
    if errors:
        raise LifecycleError(errors)
    move([trackers[line.mac].pk for line in lines], Lifecycle.IN_STOCK)
    audit(
        action="devices.receive",
        user=user,
        target=f"{len(lines)} devices",
        count=len(lines),
        macs=[line.mac for line in lines],
    )
    return len(lines)


# --- Import into a production run ----------------------------------------------------------


@transaction.atomic
def trackers_import(
    *,
    production_run: ProductionRun,
    macs_text: bytes | str | None = None,
    order: CustomerOrder | None = None,
    user=None,
) -> int:
    """Trackers allocated to the run's client become ACTIVE in the run: the MACs listed, or
    every tracker of `order` still waiting. A tracker may leave an older run of the same
    client only once that run has ended. `activated_at` is now: the customer reads, and the
    fetcher asks Apple for, nothing observed before it."""
    if (macs_text is None) == (order is None):
        raise LifecycleError("give either a list of MAC addresses or an order, not both")
    run = ProductionRun.objects.select_related("brand__client").get(pk=production_run.pk)
    client = run.brand.client
    now = timezone.now()
    if run.ends_at < now:
        raise LifecycleError(f'production run "{run}" ended on {run.ends_at:%Y-%m-%d}')

    if order is not None:
        order = lock_order(order)
        lines = _waiting_lines(order=order, client=client, run=run)
    else:
        lines = parse_mac_list(macs_text)

    trackers = lock_trackers(line.mac for line in lines)

    def objection(tracker: Tracker) -> str | None:
        return _import_objection(tracker, client=client, run=run, now=now)

    errors = refusals(lines, trackers, objection)
    if errors:
        raise LifecycleError(errors)

    # The activation starts the tracker's life in this run: what it reported before (in the
    # warehouse, in an earlier run) is not this customer's, so the last position goes too.
    move(
        [trackers[line.mac].pk for line in lines],
        Lifecycle.ACTIVE,
        production_run=run,
        activated_at=now,
        status=Tracker.Status.UNKNOWN,
        status_changed_at=None,
        last_report_at=None,
        last_point=None,
        last_accuracy_m=None,
        nearest_city="",
        nearest_country_code="",
    )
    audit(
        action="trackers.import",
        user=user,
        target=str(run),
        client=client,
        production_run=run.pk,
        order=order.reference if order else None,
        count=len(lines),
        macs=[line.mac for line in lines],
    )
    return len(lines)


def _waiting_lines(*, order: CustomerOrder, client, run: ProductionRun) -> list[MacLine]:
    """The order's allocated trackers that are not active yet, as MAC lines; the order must
    be the run's client's (and locked by the caller)."""
    if order.client_id != client.pk:
        raise LifecycleError(
            f'order "{order.reference}" is for {order.client}; production run "{run}" '
            f"belongs to {client}"
        )
    macs = list(
        order.allocations.current()
        .filter(tracker__lifecycle_state=Lifecycle.ALLOCATED)
        .order_by("tracker__mac_address")
        .values_list("tracker__mac_address", flat=True)
    )
    if not macs:
        raise LifecycleError(f'order "{order.reference}" has no trackers waiting for import')
    return [MacLine(0, mac, mac) for mac in macs]


def _import_objection(tracker: Tracker, *, client, run: ProductionRun, now) -> str | None:
    """Why the tracker can't become ACTIVE in `run`, or None: it must be allocated to the
    run's client, and any other run it is active in must have ended."""
    state = tracker.lifecycle_state
    if state not in (Lifecycle.ALLOCATED, Lifecycle.ACTIVE):
        return f"is not allocated to a client (state {state})"
    if tracker.client_id != client.pk:
        return f"is allocated to another client ({tracker.client})"
    other = tracker.production_run
    if state != Lifecycle.ACTIVE or other is None:
        return None
    if other.pk == run.pk:
        return f'is already active in production run "{run}"'
    if other.ends_at < now:
        return None
    when = (
        f"which is still live (ends {other.ends_at:%Y-%m-%d})"
        if other.starts_at <= now
        else f"which has not started yet (starts {other.starts_at:%Y-%m-%d})"
    )
    return f'is active in production run "{other}", {when}'


# --- Retirement ----------------------------------------------------------------------------


@transaction.atomic
def tracker_retire(*, macs_text: bytes | str, user=None, reason: str = "") -> int:
    """Take trackers out of service for good (lost, broken, returned). A tracker that was
    only allocated leaves its order, which then has room for a replacement."""
    lines = parse_mac_list(macs_text)
    trackers = lock_trackers(line.mac for line in lines)
    errors = refusals(
        lines,
        trackers,
        lambda t: "is already retired" if t.lifecycle_state == Lifecycle.RETIRED else None,
    )
    if errors:
        raise LifecycleError(errors)
    ids = [trackers[line.mac].pk for line in lines]
    released = Allocation.objects.current().filter(
        tracker__in=ids, tracker__lifecycle_state=Lifecycle.ALLOCATED
    )
    orders = list(CustomerOrder.objects.filter(allocations__in=released).distinct())
    released.update(released_at=timezone.now())
    move(ids, Lifecycle.RETIRED)
    for order in orders:
        if order.status != CustomerOrder.Status.CANCELLED:
            refresh_order_status(order)
    audit(
        action="trackers.retire",
        user=user,
        target=f"{len(ids)} trackers",
        count=len(ids),
        reason=reason,
        macs=[line.mac for line in lines],
    )
    return len(ids)

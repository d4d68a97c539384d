"""Customer orders: creation, allocation of in-stock trackers by MAC or count, cancelling."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tracking.models import Client, Tracker

from ..exceptions import LifecycleError
from ..models import Allocation, CustomerOrder
from ..parsing import MacLine, parse_mac_list
from .lifecycle import Lifecycle, actor, audit, lock_trackers, move, refusals


@transaction.atomic
def order_create(*, client: Client, reference: str, quantity: int, user=None) -> CustomerOrder:
    reference = reference.strip()
    errors = []
    if not reference:
        errors.append("an order needs a reference")
    elif CustomerOrder.objects.filter(reference=reference).exists():
        errors.append(f'order "{reference}" already exists')
    if quantity < 1:
        errors.append(f"an order needs at least one tracker, not {quantity}")
    if errors:
        raise LifecycleError(errors)
    order = CustomerOrder.objects.create(
        client=client, reference=reference, quantity=quantity, created_by=actor(user)
    )
    audit(action="order.create", user=user, target=reference, client=client, quantity=quantity)
    return order


def lock_order(order: CustomerOrder) -> CustomerOrder:
    order = CustomerOrder.objects.select_for_update().select_related("client").get(pk=order.pk)
    if order.status == CustomerOrder.Status.CANCELLED:
        raise LifecycleError(f'order "{order.reference}" is cancelled')
    return order


def refresh_order_status(order: CustomerOrder) -> None:
    allocated = order.allocations.current().count()
    status = (
        CustomerOrder.Status.ALLOCATED if allocated >= order.quantity else CustomerOrder.Status.OPEN
    )
    if order.status != status:
        order.status = status
        order.save(update_fields=["status"])


@transaction.atomic
def order_allocate(
    *,
    order: CustomerOrder,
    macs_text: bytes | str | None = None,
    count: int | None = None,
    user=None,
) -> int:
    """Allocate in-stock trackers to the order: the MACs listed, or `count` from stock.
    All or nothing; the trackers now belong to the order's client."""
    if (macs_text is None) == (count is None):
        raise LifecycleError("give either a list of MAC addresses or a count, not both")
    order = lock_order(order)
    allocated = order.allocations.current().count()
    room = order.quantity - allocated
    if macs_text is not None:
        lines = parse_mac_list(macs_text)
        trackers = lock_trackers(line.mac for line in lines)
        errors = _allocation_errors(order, lines, trackers, allocated, room)
        if errors:
            raise LifecycleError(errors)
        chosen = [trackers[line.mac] for line in lines]
        mode = "list"
    else:
        if not 1 <= count <= room:
            raise LifecycleError(
                f'order "{order.reference}" has room for {room} more trackers '
                f"(quantity {order.quantity}, {allocated} allocated), not {count}"
            )
        chosen = list(
            Tracker.objects.select_for_update(skip_locked=True)
            .filter(lifecycle_state=Lifecycle.IN_STOCK)
            .order_by("id")
            .only("id", "mac_address")[:count]
        )
        if len(chosen) < count:
            raise LifecycleError(f"only {len(chosen)} trackers are in stock, {count} needed")
        mode = "stock"

    move([t.pk for t in chosen], Lifecycle.ALLOCATED, client=order.client)
    now = timezone.now()
    Allocation.objects.bulk_create(
        [
            Allocation(order=order, tracker=t, allocated_at=now, allocated_by=actor(user))
            for t in chosen
        ]
    )
    refresh_order_status(order)
    audit(
        action="order.allocate",
        user=user,
        target=order.reference,
        client=order.client,
        mode=mode,
        count=len(chosen),
        macs=[t.mac_address for t in chosen],
    )
    return len(chosen)


def _allocation_errors(
    order: CustomerOrder,
    lines: list[MacLine],
    trackers: dict[str, Tracker],
    allocated: int,
    room: int,
) -> list[str]:
    current = {
        a.tracker_id: a.order
        for a in Allocation.objects.current()
        .filter(tracker__in=[t.pk for t in trackers.values()])
        .select_related("order")
    }

    def objection(tracker: Tracker) -> str | None:
        if tracker.lifecycle_state == Lifecycle.ALLOCATED:
            other = current.get(tracker.pk)
            where = f'order "{other.reference}"' if other else f"client {tracker.client}"
            return f"is already allocated ({where})"
        if tracker.lifecycle_state != Lifecycle.IN_STOCK:
            return f"is not in stock (state {tracker.lifecycle_state})"
        return None

    errors = refusals(lines, trackers, objection)
    if len(lines) > room:
        errors.append(
            lines[room].refuse(
                f'is more than order "{order.reference}" takes: quantity {order.quantity}, '
                f"{allocated} already allocated, {len(lines)} in the input"
            )
        )
    return errors


@transaction.atomic
def order_cancel(*, order: CustomerOrder, user=None) -> int:
    """Cancel the order; its allocated trackers go back to stock, without a client."""
    order = lock_order(order)
    allocations = list(
        order.allocations.current().select_related("tracker__production_run").order_by("id")
    )
    errors = [
        f'tracker "{a.tracker.mac_address}" is {a.tracker.lifecycle_state}'
        + (f' in production run "{a.tracker.production_run}"' if a.tracker.production_run else "")
        + "; only allocated trackers can go back to stock"
        for a in allocations
        if a.tracker.lifecycle_state != Lifecycle.ALLOCATED
    ]
    if errors:
        raise LifecycleError([f'order "{order.reference}" cannot be cancelled:', *errors])
    tracker_ids = [a.tracker_id for a in allocations]
    move(tracker_ids, Lifecycle.IN_STOCK, client=None)
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).update(released_at=timezone.now())
    order.status = CustomerOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    audit(
        action="order.cancel",
        user=user,
        target=order.reference,
        client=order.client,
        count=len(tracker_ids),
        macs=[a.tracker.mac_address for a in allocations],
    )
    return len(tracker_ids)

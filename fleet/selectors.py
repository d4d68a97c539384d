"""Reads of the fleet workflow. Portal- and API-facing reads take the user and go through
`visible_to`; the operator lookups (staff admin, manage.py) are named as such."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from tracking.models import KeyBatch, ProductionRun, Tracker

from .exceptions import LifecycleError
from .models import Allocation, CustomerOrder


def order_list(*, user) -> QuerySet[CustomerOrder]:
    return (
        CustomerOrder.objects.visible_to(user)
        .select_related("client")
        .annotate(allocated=Count("allocations", filter=Q(allocations__released_at__isnull=True)))
    )


def order_trackers(*, order: CustomerOrder) -> QuerySet[Tracker]:
    """The trackers currently allocated to the order (whatever their state since)."""
    return Tracker.objects.filter(
        pk__in=Allocation.objects.current().filter(order=order).values("tracker_id")
    ).select_related("production_run")


def lifecycle_counts(*, key_batch: KeyBatch | None = None) -> dict[str, int]:
    trackers = Tracker.objects.all()
    if key_batch is not None:
        trackers = trackers.filter(key_batch=key_batch)
    counts = dict(
        trackers.order_by()
        .values_list("lifecycle_state")
        .annotate(n=Count("id"))
        .values_list("lifecycle_state", "n")
    )
    return {state: counts.get(state, 0) for state in Tracker.Lifecycle.values}


# Operator lookups for manage.py: a missing name is a refusal, not a traceback.


def key_batch_for_operator(*, name: str) -> KeyBatch:
    try:
        return KeyBatch.objects.get(name=name)
    except KeyBatch.DoesNotExist:
        raise LifecycleError(f'key batch "{name}" does not exist') from None


def order_for_operator(*, reference: str) -> CustomerOrder:
    try:
        return CustomerOrder.objects.select_related("client").get(reference=reference)
    except CustomerOrder.DoesNotExist:
        raise LifecycleError(f'order "{reference}" does not exist') from None


def production_run_for_operator(*, pk: int) -> ProductionRun:
    try:
        return ProductionRun.objects.select_related("brand__client").get(pk=pk)
    except ProductionRun.DoesNotExist:
        raise LifecycleError(f"production run {pk} does not exist") from None

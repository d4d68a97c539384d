"""Customer orders and the trackers allocated to them.

Key batches and trackers live in tracking; fleet adds what the operator's workflow needs on
top. The audit trail is tracking.AuditEvent (actions "keys.*", "devices.*", "order.*",
"trackers.*").
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tracking.models import Client, TenantQuerySet, Tracker


class CustomerOrder(models.Model):
    class Status(models.TextChoices):
        OPEN = "OPEN", "Open"  # fewer trackers allocated than ordered
        ALLOCATED = "ALLOCATED", "Allocated"  # every ordered tracker allocated
        CANCELLED = "CANCELLED", "Cancelled"

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="orders")
    reference = models.CharField(max_length=60, unique=True)
    quantity = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="customer_order_quantity_positive",
                violation_error_message="An order needs at least one tracker.",
            )
        ]

    def __str__(self) -> str:
        return self.reference


class AllocationQuerySet(TenantQuerySet):
    client_path = "order__client"

    def current(self) -> AllocationQuerySet:
        return self.filter(released_at__isnull=True)


class Allocation(models.Model):
    """A tracker allocated to an order. Cancelling the order releases it (released_at);
    the row stays as history."""

    order = models.ForeignKey(CustomerOrder, on_delete=models.PROTECT, related_name="allocations")
    tracker = models.ForeignKey(Tracker, on_delete=models.PROTECT, related_name="allocations")
    allocated_at = models.DateTimeField(default=timezone.now)
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)

    objects = AllocationQuerySet.as_manager()

    class Meta:
        ordering = ["order", "tracker__mac_address"]
        constraints = [
            # A tracker belongs to at most one order at a time.
            models.UniqueConstraint(
                fields=["tracker"],
                condition=Q(released_at__isnull=True),
                name="allocation_one_current_per_tracker",
            )
        ]

    def __str__(self) -> str:
        return f"{self.tracker_id} -> {self.order_id}"

from collections.abc import Callable

import pytest

from fleet import services
from fleet.models import Allocation, CustomerOrder
from tests.fleet.support import macs
from tracking.models import AuditEvent, KeyBatch, Tracker


def snapshot() -> dict:
    """Everything the fleet services write, to prove a refusal changed nothing."""
    return {
        "trackers": list(
            Tracker.objects.order_by("pk").values_list(
                "pk", "lifecycle_state", "client_id", "production_run_id", "status"
            )
        ),
        "allocations": list(
            Allocation.objects.order_by("pk").values_list("pk", "order_id", "released_at")
        ),
        "orders": list(CustomerOrder.objects.order_by("pk").values_list("pk", "status")),
        "batches": list(KeyBatch.objects.order_by("pk").values_list("pk", "state")),
        "audit": AuditEvent.objects.count(),
    }


@pytest.fixture
def unchanged() -> Callable[[], None]:
    """unchanged() after arranging, then call the returned check after the refusal."""

    def take():
        before = snapshot()
        return lambda: snapshot() == before or pytest.fail("the database changed")

    return take


@pytest.fixture
def stock(world) -> Callable[..., list[Tracker]]:
    """stock(n): n trackers generated, exported and received through the services."""
    counter = iter(range(1000))

    def make(n: int, *, name: str | None = None) -> list[Tracker]:
        batch = services.keys_generate(
            batch_name=name or f"stock-{next(counter)}", count=n, user=world.staff
        )
        services.batch_export(batch=batch, fmt="csv", user=world.staff)
        trackers = list(batch.trackers.order_by("mac_address"))
        services.devices_receive(macs_text=macs(trackers), user=world.staff)
        return list(batch.trackers.order_by("mac_address"))

    return make

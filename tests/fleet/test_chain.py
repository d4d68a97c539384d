"""The whole chain by services: fresh key pairs to trackers fetched in a customer's run."""

from fleet import selectors, services
from tests.fleet.support import macs
from tracking.models import AuditEvent, KeyBatch, Tracker


def test_services_take_a_batch_from_generation_to_active(world):
    batch = services.keys_generate(batch_name="chain", count=10, user=world.staff)
    assert selectors.lifecycle_counts(key_batch=batch)["GENERATED"] == 10

    services.batch_export(batch=batch, fmt="bin", user=world.staff)
    trackers = list(batch.trackers.order_by("mac_address"))
    services.devices_receive(macs_text=macs(trackers[:8]), user=world.staff)  # 2 never arrive
    order = services.order_create(
        client=world.client_b, reference="PO-CHAIN", quantity=8, user=world.staff
    )
    services.order_allocate(order=order, macs_text=macs(trackers[:5]), user=world.staff)
    services.order_allocate(order=order, count=3, user=world.staff)
    services.trackers_import(production_run=world.run_b, order=order, user=world.staff)
    services.tracker_retire(macs_text=trackers[0].mac_address, user=world.staff, reason="lost")

    batch.refresh_from_db()
    assert batch.state == KeyBatch.State.EXPORTED
    assert selectors.lifecycle_counts(key_batch=batch) == {
        "GENERATED": 0,
        "EXPORTED": 2,
        "IN_STOCK": 0,
        "ALLOCATED": 0,
        "ACTIVE": 7,
        "RETIRED": 1,
    }
    fetchable = Tracker.objects.fetchable().filter(key_batch=batch)
    assert fetchable.count() == 7
    assert set(fetchable.values_list("client", "production_run")) == {
        (world.client_b.pk, world.run_b.pk)
    }
    # Client B sees its eight, the retired one included; client A sees none of them.
    assert Tracker.objects.visible_to(world.b_admin).filter(key_batch=batch).count() == 8
    assert not Tracker.objects.visible_to(world.a_admin).filter(key_batch=batch).exists()
    assert list(
        AuditEvent.objects.filter(actor=world.staff)
        .order_by("at", "pk")
        .values_list("action", flat=True)
    ) == [
        "keys.generate",
        "keys.export",
        "devices.receive",
        "order.create",
        "order.allocate",
        "order.allocate",
        "trackers.import",
        "trackers.retire",
    ]

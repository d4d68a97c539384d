from datetime import timedelta

import pytest
from django.utils import timezone

from fleet import services
from fleet.exceptions import LifecycleError
from tests.factories import ProductionRunFactory
from tests.fleet.factories import CustomerOrderFactory
from tests.fleet.support import macs
from tracking.models import AuditEvent, Tracker


@pytest.fixture
def allocated(world, stock):
    """Four trackers allocated to client A's order PO-A."""
    order = CustomerOrderFactory(client=world.client_a, reference="PO-A", quantity=4)
    trackers = stock(4)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)
    return order, trackers


def test_trackers_import_activates_listed_trackers_in_the_run(world, allocated):
    _, trackers = allocated
    text = ";".join(t.mac_address.replace(":", "") for t in trackers[:2])
    assert services.trackers_import(production_run=world.run_a, macs_text=text, user=world.staff)

    mine = Tracker.objects.filter(pk__in=[t.pk for t in trackers])
    active = mine.filter(lifecycle_state="ACTIVE")
    assert {t.mac_address for t in active} == {t.mac_address for t in trackers[:2]}
    assert {(t.production_run_id, t.client_id) for t in active} == {
        (world.run_a.pk, world.client_a.pk)
    }
    assert set(mine.fetchable()) == set(active)
    event = AuditEvent.objects.get(action="trackers.import")
    assert (event.client, event.details["count"]) == (world.client_a, 2)


def test_trackers_import_of_an_order_activates_its_waiting_trackers(world, allocated):
    order, trackers = allocated
    services.trackers_import(
        production_run=world.run_a, macs_text=trackers[0].mac_address, user=world.staff
    )
    assert services.trackers_import(production_run=world.run_a, order=order, user=world.staff) == 3
    mine = Tracker.objects.filter(pk__in=[t.pk for t in trackers])
    assert mine.filter(production_run=world.run_a, lifecycle_state="ACTIVE").count() == 4


def test_trackers_import_refuses_trackers_of_another_client(world, allocated, unchanged):
    _, trackers = allocated
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.trackers_import(
            production_run=world.run_b, macs_text=macs(trackers[:2]), user=world.staff
        )
    assert excinfo.value.messages == [
        f'line {i + 1}: "{t.mac_address}" is allocated to another client (Alpha Logistics)'
        for i, t in enumerate(trackers[:2])
    ]
    check()


def test_trackers_import_refuses_an_order_of_another_client(world, allocated, unchanged):
    order, _ = allocated
    check = unchanged()
    with pytest.raises(LifecycleError, match='order "PO-A" is for Alpha Logistics'):
        services.trackers_import(production_run=world.run_b, order=order, user=world.staff)
    check()


def test_trackers_import_refuses_trackers_active_in_a_live_run(world, allocated, unchanged):
    _, trackers = allocated
    services.trackers_import(
        production_run=world.run_a, macs_text=macs(trackers[:1]), user=world.staff
    )
    second_run = ProductionRunFactory(client=world.client_a, name="Alpha autumn run")
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.trackers_import(
            production_run=second_run, macs_text=macs(trackers[:1]), user=world.staff
        )
    ends = world.run_a.ends_at.strftime("%Y-%m-%d")
    assert excinfo.value.messages == [
        f'line 1: "{trackers[0].mac_address}" is active in production run "Alpha spring run", '
        f"which is still live (ends {ends})"
    ]
    with pytest.raises(LifecycleError, match="is already active in production run"):
        services.trackers_import(
            production_run=world.run_a, macs_text=macs(trackers[:1]), user=world.staff
        )
    check()


def test_trackers_import_moves_a_tracker_on_once_its_run_has_ended(world, allocated):
    _, trackers = allocated
    services.trackers_import(
        production_run=world.run_a, macs_text=macs(trackers[:1]), user=world.staff
    )
    now = timezone.now()
    world.run_a.starts_at, world.run_a.ends_at = now - timedelta(days=20), now - timedelta(days=1)
    world.run_a.save()
    next_run = ProductionRunFactory(client=world.client_a, name="Alpha autumn run")

    services.trackers_import(
        production_run=next_run, macs_text=macs(trackers[:1]), user=world.staff
    )
    assert Tracker.objects.get(pk=trackers[0].pk).production_run == next_run


def test_trackers_import_refuses_unknown_unallocated_and_malformed(world, stock, unchanged):
    in_stock = stock(1)[0]
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.trackers_import(
            production_run=world.run_a,
            macs_text=f"{in_stock.mac_address}\n\nC0:FF:EE:C0:FF:EE\n",
            user=world.staff,
        )
    assert excinfo.value.messages == [
        f'line 1: "{in_stock.mac_address}" is not allocated to a client (state IN_STOCK)',
        'line 3: "C0:FF:EE:C0:FF:EE" is not a known tracker',
    ]
    with pytest.raises(LifecycleError, match='line 2: "xyz" is not a MAC address'):
        services.trackers_import(
            production_run=world.run_a, macs_text=f"{in_stock.mac_address}\nxyz", user=world.staff
        )
    check()


def test_trackers_import_refuses_an_ended_run(world, allocated, unchanged):
    _, trackers = allocated
    now = timezone.now()
    ended = ProductionRunFactory(
        client=world.client_a, starts_at=now - timedelta(days=9), ends_at=now - timedelta(days=2)
    )
    check = unchanged()
    with pytest.raises(LifecycleError, match="ended on"):
        services.trackers_import(production_run=ended, macs_text=macs(trackers), user=world.staff)
    check()

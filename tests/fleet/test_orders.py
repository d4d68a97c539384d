import pytest

from fleet import selectors, services
from fleet.exceptions import LifecycleError
from fleet.models import Allocation, CustomerOrder
from tests.fleet.factories import AllocationFactory, CustomerOrderFactory
from tests.fleet.support import macs
from tracking.models import AuditEvent, Tracker


@pytest.fixture
def order(world):
    return services.order_create(
        client=world.client_a, reference="PO-1", quantity=4, user=world.staff
    )


def test_order_allocate_by_mac_list_gives_trackers_to_the_client(world, stock, order):
    trackers = stock(4)
    text = "\n".join(t.mac_address.lower() for t in trackers[:3])
    assert services.order_allocate(order=order, macs_text=text, user=world.staff) == 3

    allocated = selectors.order_trackers(order=order)
    assert {t.mac_address for t in allocated} == {t.mac_address for t in trackers[:3]}
    assert {(t.lifecycle_state, t.client_id) for t in allocated} == {
        (Tracker.Lifecycle.ALLOCATED, world.client_a.pk)
    }
    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.OPEN
    event = AuditEvent.objects.get(action="order.allocate")
    assert (event.actor, event.client, event.target) == (world.staff, world.client_a, "PO-1")
    assert event.details["count"] == 3
    assert sorted(event.details["macs"]) == sorted(t.mac_address for t in trackers[:3])


def test_order_allocate_by_count_takes_trackers_from_stock(world, stock, order):
    stock(6)
    assert services.order_allocate(order=order, count=4, user=world.staff) == 4
    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.ALLOCATED
    assert Tracker.objects.filter(lifecycle_state="ALLOCATED", client=world.client_a).count() == 4
    assert selectors.lifecycle_counts()["IN_STOCK"] == 2


def test_order_allocate_in_two_steps_fills_the_order(world, stock, order):
    trackers = stock(4)
    services.order_allocate(order=order, macs_text=macs(trackers[:2]), user=world.staff)
    services.order_allocate(order=order, macs_text=macs(trackers[2:]), user=world.staff)
    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.ALLOCATED
    assert AuditEvent.objects.filter(action="order.allocate").count() == 2


def test_order_allocate_refuses_each_bad_row_and_changes_nothing(world, stock, unchanged, order):
    trackers = stock(3)
    other = AllocationFactory(order__client=world.client_b, order__reference="PO-B")
    exported = services.keys_generate(batch_name="exp", count=1).trackers.get()
    services.batch_export(batch=exported.key_batch, fmt="bin", user=world.staff)
    text = "\n".join(
        [
            trackers[0].mac_address,  # fine
            "11:22:33:44:55:66",  # unknown
            exported.mac_address,  # not in stock
            other.tracker.mac_address,  # allocated already
            trackers[0].mac_address.lower(),  # duplicate
        ]
    )
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.order_allocate(order=order, macs_text=text, user=world.staff)
    assert excinfo.value.messages == [
        f'line 5: "{trackers[0].mac_address.lower()}" is a duplicate of line 1'
    ]
    check()

    text = "\n".join(text.splitlines()[:4])
    with pytest.raises(LifecycleError) as excinfo:
        services.order_allocate(order=order, macs_text=text, user=world.staff)
    assert excinfo.value.messages == [
        'line 2: "11:22:33:44:55:66" is not a known tracker',
        f'line 3: "{exported.mac_address}" is not in stock (state EXPORTED)',
        f'line 4: "{other.tracker.mac_address}" is already allocated (order "PO-B")',
    ]
    check()


def test_order_allocate_refuses_more_than_the_quantity(world, stock, unchanged):
    order = CustomerOrderFactory(client=world.client_a, reference="PO-Q", quantity=3)
    trackers = stock(5)
    services.order_allocate(order=order, macs_text=trackers[0].mac_address, user=world.staff)
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.order_allocate(order=order, macs_text=macs(trackers[1:]), user=world.staff)
    assert excinfo.value.messages == [
        f'line 3: "{trackers[3].mac_address}" is more than order "PO-Q" takes: quantity 3, '
        "1 already allocated, 4 in the input"
    ]
    with pytest.raises(LifecycleError, match="room for 2 more trackers"):
        services.order_allocate(order=order, count=3, user=world.staff)
    check()


def test_order_allocate_by_count_refuses_when_stock_is_short(world, stock, order, unchanged):
    stock(2)
    check = unchanged()
    with pytest.raises(LifecycleError, match="only 2 trackers are in stock, 3 needed"):
        services.order_allocate(order=order, count=3, user=world.staff)
    check()


def test_order_allocate_refuses_a_cancelled_order(world, stock, order, unchanged):
    trackers = stock(1)
    services.order_cancel(order=order, user=world.staff)
    check = unchanged()
    with pytest.raises(LifecycleError, match='order "PO-1" is cancelled'):
        services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)
    check()


def test_order_cancel_returns_trackers_to_stock(world, stock, order):
    trackers = stock(3)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)

    assert services.order_cancel(order=order, user=world.staff) == 3

    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.CANCELLED
    assert set(
        Tracker.objects.filter(pk__in=[t.pk for t in trackers]).values_list(
            "lifecycle_state", "client"
        )
    ) == {("IN_STOCK", None)}
    assert not Allocation.objects.current().exists()
    assert Allocation.objects.count() == 3  # kept as history
    assert AuditEvent.objects.get(action="order.cancel").details["count"] == 3
    # Back in stock means allocatable again, to another client.
    again = CustomerOrderFactory(client=world.client_b, quantity=3)
    assert services.order_allocate(order=again, macs_text=macs(trackers), user=world.staff) == 3


def test_order_cancel_refuses_when_trackers_are_active(world, stock, order, unchanged):
    trackers = stock(2)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)
    services.trackers_import(
        production_run=world.run_a, macs_text=trackers[0].mac_address, user=world.staff
    )
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.order_cancel(order=order, user=world.staff)
    assert excinfo.value.messages == [
        'order "PO-1" cannot be cancelled:',
        f'tracker "{trackers[0].mac_address}" is ACTIVE in production run "Alpha spring run"; '
        "only allocated trackers can go back to stock",
    ]
    check()


def test_order_create_refuses_duplicate_reference(world, order, unchanged):
    check = unchanged()
    with pytest.raises(LifecycleError, match='order "PO-1" already exists'):
        services.order_create(client=world.client_b, reference="PO-1", quantity=1)
    check()


def test_order_list_is_scoped_to_the_users_clients(world):
    mine = CustomerOrderFactory(client=world.client_a)
    CustomerOrderFactory(client=world.client_b)
    assert list(selectors.order_list(user=world.a_viewer)) == [mine]
    assert selectors.order_list(user=world.staff).count() == 2

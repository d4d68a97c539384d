"""Factories for the fleet workflow. An allocation's order and tracker share one client."""

import factory

from fleet.models import Allocation, CustomerOrder
from tests.factories import ClientFactory, KeyBatchFactory, TrackerFactory
from tracking.models import Tracker


class CustomerOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerOrder

    client = factory.SubFactory(ClientFactory)
    reference = factory.Sequence(lambda n: f"PO-{n:05d}")
    quantity = 10


class StockTrackerFactory(TrackerFactory):
    """A received tracker waiting in stock, from a key batch."""

    key_batch = factory.SubFactory(KeyBatchFactory, state="EXPORTED")
    lifecycle_state = Tracker.Lifecycle.IN_STOCK
    client = None


class AllocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Allocation

    order = factory.SubFactory(CustomerOrderFactory)
    tracker = factory.SubFactory(
        StockTrackerFactory,
        lifecycle_state=Tracker.Lifecycle.ALLOCATED,
        client=factory.SelfAttribute("..order.client"),
    )

"""factory-boy factories that keep tenants consistent: a run's brand, a tracker's run and
client, and a membership's client always line up."""

from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from findmy import crypto
from tracking import encryption
from tracking.models import Brand, Client, KeyBatch, Membership, ProductionRun, Tracker

ACTIVATED_LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("pass-for-tests")


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    client = factory.SubFactory(ClientFactory)
    role = Membership.Role.VIEWER


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"Brand {n}")


class ProductionRunFactory(factory.django.DjangoModelFactory):
    """A live run by default: started a day ago, ends in thirty days."""

    class Meta:
        model = ProductionRun

    class Params:
        client = None

    brand = factory.LazyAttribute(
        lambda o: BrandFactory(client=o.client) if o.client else BrandFactory()
    )
    name = factory.Sequence(lambda n: f"Run {n}")
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(days=31))


class KeyBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeyBatch

    name = factory.Sequence(lambda n: f"batch-{n}")


class TrackerFactory(factory.django.DjangoModelFactory):
    """A tracker with a real key pair. With a production run it is ACTIVE for the run's client."""

    class Meta:
        model = Tracker

    class Params:
        private_key = factory.LazyFunction(crypto.generate_private_key)
        identity = factory.LazyAttribute(lambda o: crypto.public_identity(o.private_key))

    mac_address = factory.LazyAttribute(lambda o: o.identity.mac_address)
    advertisement_key = factory.LazyAttribute(lambda o: o.identity.advertisement_key)
    hashed_advertisement_key = factory.LazyAttribute(lambda o: o.identity.hashed_advertisement_key)
    private_key_encrypted = factory.LazyAttribute(lambda o: encryption.encrypt(o.private_key))
    production_run = None
    client = factory.LazyAttribute(
        lambda o: o.production_run.brand.client if o.production_run else None
    )
    lifecycle_state = factory.LazyAttribute(
        lambda o: Tracker.Lifecycle.ACTIVE if o.production_run else Tracker.Lifecycle.IN_STOCK
    )
    # In a run: activated long before any report a test writes (tests about the activation
    # set it themselves).
    activated_at = factory.LazyAttribute(lambda o: ACTIVATED_LONG_AGO if o.production_run else None)

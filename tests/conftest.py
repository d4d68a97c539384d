"""Shared fixtures: the four personas every page and endpoint is tested with."""

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group

from tests.factories import (
    ClientFactory,
    MembershipFactory,
    ProductionRunFactory,
    TrackerFactory,
    UserFactory,
)
from trackersite.services import staff_groups_install
from tracking.models import Membership


@dataclass
class World:
    client_a: object
    client_b: object
    run_a: object
    run_b: object
    staff: object
    a_admin: object
    a_viewer: object
    b_admin: object
    tracker_a: object
    tracker_b: object


@pytest.fixture
def world(db) -> World:
    client_a = ClientFactory(name="Alpha Logistics")
    client_b = ClientFactory(name="Bravo Retail")
    staff = UserFactory(username="staff", is_staff=True, is_superuser=True)
    a_admin = UserFactory(username="alice")
    a_viewer = UserFactory(username="victor")
    b_admin = UserFactory(username="bob")
    MembershipFactory(user=a_admin, client=client_a, role=Membership.Role.ADMIN)
    MembershipFactory(user=a_viewer, client=client_a, role=Membership.Role.VIEWER)
    MembershipFactory(user=b_admin, client=client_b, role=Membership.Role.ADMIN)
    run_a = ProductionRunFactory(client=client_a, name="Alpha spring run")
    run_b = ProductionRunFactory(client=client_b, name="Bravo summer run")
    return World(
        client_a=client_a,
        client_b=client_b,
        run_a=run_a,
        run_b=run_b,
        staff=staff,
        a_admin=a_admin,
        a_viewer=a_viewer,
        b_admin=b_admin,
        tracker_a=TrackerFactory(production_run=run_a),
        tracker_b=TrackerFactory(production_run=run_b),
    )


@pytest.fixture
def staff_in(db):
    """staff_in("operations") -> a staff member (not a superuser) in that staff group."""

    def make(group: str, username: str | None = None):
        staff_groups_install()
        user = UserFactory(username=username or f"{group}-member", is_staff=True)
        user.groups.add(Group.objects.get(name=group))
        return user

    return make


@pytest.fixture
def rate_limits_cleared():
    """Forget the public pages' rate-limit counters (tracking.ratelimit) before and after the
    test: they live in Redis across tests, and every test client comes from 127.0.0.1."""
    from django.core.cache import cache

    def clear():
        redis = cache._cache.get_client(write=True)
        for key in redis.scan_iter(match=cache.make_key("ratelimit:*")):
            redis.delete(key)

    clear()
    yield
    clear()

"""Every admin list runs the same number of queries for 100 rows as for 10 (no N+1)."""

import hashlib
import itertools
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from fleet import services as fleet_services
from fleet.models import CustomerOrder
from geofencing.models import City, Place, StatusHistory
from tests.factories import UserFactory
from tracking import encryption
from tracking.models import (
    AuditEvent,
    Brand,
    Client,
    HourlyRollup,
    Invitation,
    KeyBatch,
    LocationReport,
    Membership,
    ProductionRun,
    Profile,
    ShareLink,
    Tracker,
)

_serial = itertools.count()


def _trackers(n):
    batch = fleet_services.keys_generate(batch_name=f"q-{next(_serial)}", count=n)
    return list(batch.trackers.all())


def _clients(n):
    return Client.objects.bulk_create(Client(name=f"client {next(_serial)}") for _ in range(n))


def _rows(model, n, world):
    """n more rows of the model, each with every relation its list shows."""
    now = timezone.now()
    if model is Tracker:
        trackers = _trackers(n)
        Tracker.objects.filter(pk__in=[t.pk for t in trackers]).update(
            client=world.client_a, production_run=world.run_a, lifecycle_state="ACTIVE"
        )
        return
    if model is KeyBatch:
        user = UserFactory()
        KeyBatch.objects.bulk_create(
            KeyBatch(name=f"batch {next(_serial)}", created_by=user) for _ in range(n)
        )
        return
    if model is Client:
        _clients(n)
        return
    if model is Brand:
        Brand.objects.bulk_create(Brand(client=c, name="b") for c in _clients(n))
        return
    if model is Membership:
        users = [UserFactory() for _ in range(n)]
        Membership.objects.bulk_create(Membership(user=u, client=world.client_a) for u in users)
        return
    if model is ProductionRun:
        ProductionRun.objects.bulk_create(
            ProductionRun(brand=world.run_a.brand, name=f"run {next(_serial)}",
                          starts_at=now, ends_at=now + timedelta(days=1))
            for _ in range(n)
        )  # fmt: skip
        return
    if model is CustomerOrder:
        CustomerOrder.objects.bulk_create(
            CustomerOrder(client=world.client_a, reference=f"PO-{next(_serial)}", quantity=1)
            for _ in range(n)
        )
        return
    if model is Place:
        for _ in range(n):
            Place.objects.create(client=world.client_a, kind="STORAGE", name=f"p{next(_serial)}",
                                 point=Point(16.3, 48.2, srid=4326))  # fmt: skip
        return
    if model is AppleAccount:
        AppleAccount.objects.bulk_create(
            AppleAccount(name=f"a{next(_serial)}", session_encrypted=encryption.encrypt(b"{}"))
            for _ in range(n)
        )
        return
    if model is FetchRun:
        account = AppleAccount.objects.create(
            name=f"a{next(_serial)}", session_encrypted=encryption.encrypt(b"{}")
        )
        FetchRun.objects.bulk_create(FetchRun(account=account) for _ in range(n))
        return
    if model is City:
        City.objects.bulk_create(
            City(geoname_id=next(_serial) + 10_000, name="c", country_code="AT",
                 point=Point(16.3, 48.2, srid=4326))
            for _ in range(n)
        )  # fmt: skip
        return
    if model is AuditEvent:
        user = UserFactory()
        AuditEvent.objects.bulk_create(
            AuditEvent(actor=user, client=world.client_a, action="x") for _ in range(n)
        )
        return
    if model is ShareLink:
        user = UserFactory()
        targets = [{"tracker": world.tracker_a}, {"production_run": world.run_a}]
        ShareLink.objects.bulk_create(
            ShareLink(client=world.client_a, token_hash=f"{next(_serial):064d}",
                      created_by=user, expires_at=now + timedelta(days=1), **targets[i % 2])
            for i in range(n)
        )  # fmt: skip
        return
    if model is Invitation:
        user = UserFactory()
        Invitation.objects.bulk_create(
            Invitation(client=world.client_a, email=f"i{next(_serial)}@example.com",
                       role="VIEWER", token_hash=f"{next(_serial):064d}", invited_by=user)
            for _ in range(n)
        )  # fmt: skip
        return
    if model is Profile:
        Profile.objects.bulk_create(
            Profile(user=UserFactory(), timezone_name="UTC") for _ in range(n)
        )
        return
    trackers = _trackers(n)
    Tracker.objects.filter(pk__in=[t.pk for t in trackers]).update(production_run=world.run_a)
    if model is TrackerFetchState:
        TrackerFetchState.objects.bulk_create(TrackerFetchState(tracker=t) for t in trackers)
    elif model is LocationReport:
        LocationReport.objects.bulk_create(
            LocationReport(tracker=t, observed_at=now, point=Point(16.3, 48.2, srid=4326),
                           horizontal_accuracy=5, confidence=2, status_byte=0,
                           payload_hash=hashlib.sha256(f"{t.pk}".encode()).digest())
            for t in trackers
        )  # fmt: skip
    elif model is HourlyRollup:
        HourlyRollup.objects.bulk_create(
            HourlyRollup(tracker=t, bucket=now, report_count=1, first_observed_at=now,
                         last_observed_at=now, centroid=Point(16.3, 48.2, srid=4326),
                         best_accuracy_m=5)
            for t in trackers
        )  # fmt: skip
    elif model is StatusHistory:
        place = Place.objects.create(
            client=world.client_a, kind="STORAGE", name=f"p{next(_serial)}",
            point=Point(16.3, 48.2, srid=4326),
        )  # fmt: skip
        StatusHistory.objects.bulk_create(
            StatusHistory(tracker=t, from_status="UNKNOWN", to_status="IN_STORAGE", at=now,
                          place=place)
            for t in trackers
        )  # fmt: skip
    else:
        raise AssertionError(model)


CHANGELISTS = [
    Tracker, KeyBatch, Client, Brand, Membership, ProductionRun, CustomerOrder, Place,
    AppleAccount, FetchRun, City, AuditEvent, TrackerFetchState, LocationReport, HourlyRollup,
    StatusHistory, ShareLink, Profile, Invitation,
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("model", CHANGELISTS, ids=lambda m: m.__name__)
def test_a_list_of_100_rows_costs_the_queries_of_a_list_of_10(client, staff_in, world, model):
    client.force_login(staff_in("operations"))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    _rows(model, 10, world)
    client.get(url)  # warm the session and content types

    with CaptureQueriesContext(connection) as ten:
        first = client.get(url)
    _rows(model, 90, world)
    with CaptureQueriesContext(connection) as hundred:
        second = client.get(url)

    assert first.status_code == second.status_code == 200
    assert second.context["cl"].result_count >= 100
    assert len(second.context["cl"].result_list) == 100
    assert len(hundred) == len(ten), [q["sql"] for q in hundred.captured_queries]

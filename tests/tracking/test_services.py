"""Writes of the tenancy objects go through tracking.services: validated, audited, atomic."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.factories import BrandFactory, UserFactory
from tracking import services
from tracking.models import AuditEvent, Client, Membership, ProductionRun

pytestmark = pytest.mark.django_db


def test_client_save_creates_updates_and_audits():
    client = services.client_save(name="Charlie Freight")
    services.client_save(name="Charlie Freight GmbH", client=client)
    assert Client.objects.get(pk=client.pk).name == "Charlie Freight GmbH"
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "target"))
    assert actions == [
        ("client.create", "Charlie Freight"),
        ("client.update", "Charlie Freight GmbH"),
    ]


def test_a_duplicate_client_name_is_refused_naming_the_field():
    services.client_save(name="Delta")
    with pytest.raises(ValidationError) as refused:
        services.client_save(name="Delta")
    assert "name" in refused.value.message_dict
    assert AuditEvent.objects.count() == 1


def test_a_run_that_ends_before_it_starts_is_refused_and_nothing_is_written():
    brand = BrandFactory()
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        services.production_run_save(brand=brand, name="Backwards", starts_at=now,
                                     ends_at=now - timedelta(days=1))  # fmt: skip
    assert "ends_at" in refused.value.message_dict
    assert not ProductionRun.objects.exists()
    assert not AuditEvent.objects.exists()


def test_admin_writes_tenancy_through_the_services(client, staff_in, world):
    operator = staff_in("operations")
    client.force_login(operator)
    member = UserFactory(username="carol")
    response = client.post(
        reverse("admin:tracking_client_add"),
        {
            "name": "Echo Parcels", "silent_after_hours": 24,
            "memberships-TOTAL_FORMS": 1, "memberships-INITIAL_FORMS": 0,
            "memberships-0-user": member.pk, "memberships-0-role": "ADMIN",
            "brands-TOTAL_FORMS": 1, "brands-INITIAL_FORMS": 0,
            "brands-0-name": "Echo Blue",
        },
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    echo = Client.objects.get(name="Echo Parcels")
    assert Membership.objects.get(client=echo).user == member
    events = set(AuditEvent.objects.filter(actor=operator).values_list("action", flat=True))
    assert events == {"client.create", "membership.create", "brand.create"}

    run = world.run_a
    url = reverse("admin:tracking_productionrun_change", args=[run.pk])
    ends = run.ends_at + timedelta(days=7)
    response = client.post(url, {
        "brand": run.brand.pk, "name": "Alpha spring run (extended)",
        "starts_at_0": f"{run.starts_at:%Y-%m-%d}", "starts_at_1": "08:00:00",
        "ends_at_0": f"{ends:%Y-%m-%d}", "ends_at_1": "08:00:00",
    })  # fmt: skip
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="production_run.update", actor=operator).exists()

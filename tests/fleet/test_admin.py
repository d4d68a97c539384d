import hashlib
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fleet import services
from fleet.models import CustomerOrder
from tests.fleet.factories import CustomerOrderFactory
from tests.fleet.support import macs
from tracking.models import AuditEvent, KeyBatch, Tracker


@pytest.fixture
def staff_client(client, world):
    client.force_login(world.staff)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_admin_generate_keys_creates_a_batch(staff_client):
    url = reverse("admin:tracking_keybatch_add")
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, {"batch_name": "admin-batch", "count": 7})
    batch = KeyBatch.objects.get(name="admin-batch")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:tracking_keybatch_change", args=[batch.pk])
    assert batch.trackers.count() == 7


def test_admin_generate_keys_caps_the_count(staff_client):
    url = reverse("admin:tracking_keybatch_add")
    response = staff_client.post(url, {"batch_name": "huge", "count": 100_001})
    assert response.status_code == 200
    assert not KeyBatch.objects.filter(name="huge").exists()


@pytest.mark.parametrize("fmt", ["csv", "json", "bin"])
def test_admin_export_downloads_the_file_and_audits_it(staff_client, world, fmt):
    batch = services.keys_generate(batch_name="dl", count=3)
    page = staff_client.get(reverse("admin:tracking_keybatch_change", args=[batch.pk]))
    assert f'value="{fmt}"' in page.content.decode()

    response = staff_client.post(
        reverse("admin:fleet_keybatch_export", args=[batch.pk]), {"format": fmt}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="dl.{fmt}"'
    event = AuditEvent.objects.get(action="keys.export")
    assert event.actor == world.staff
    assert event.details["sha256"] == hashlib.sha256(response.content).hexdigest()


def test_admin_export_refuses_get(staff_client):
    batch = services.keys_generate(batch_name="get", count=1)
    response = staff_client.get(reverse("admin:fleet_keybatch_export", args=[batch.pk]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="keys.export").exists()


def test_admin_receive_upload_moves_devices_to_stock(staff_client, world):
    batch = services.keys_generate(batch_name="rcv", count=3)
    services.batch_export(batch=batch, fmt="csv", user=world.staff)
    upload = SimpleUploadedFile(
        "macs.csv", b"\xef\xbb\xbfmac\n" + macs(batch.trackers.all()).encode()
    )
    response = staff_client.post(reverse("admin:fleet_devices_receive"), {"macs_file": upload})
    assert response.status_code == 302
    assert set(batch.trackers.values_list("lifecycle_state", flat=True)) == {"IN_STOCK"}


def test_admin_receive_shows_each_refused_line(staff_client, unchanged):
    check = unchanged()
    response = staff_client.post(
        reverse("admin:fleet_devices_receive"), {"macs_text": "AA:BB:CC:DD:EE:FF\nbad"}
    )
    assert response.status_code == 200
    assert _messages(response) == [
        'Refused, nothing was changed:<ul class="refusals">'
        "<li>line 2: &quot;bad&quot; is not a MAC address</li></ul>"
    ]
    check()


def test_admin_order_add_allocate_import_and_cancel(staff_client, world, stock):
    response = staff_client.post(
        reverse("admin:fleet_customerorder_add"),
        {
            "client": world.client_a.pk,
            "reference": "PO-ADMIN",
            "quantity": 3,
            "allocations-TOTAL_FORMS": 0,
            "allocations-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    order = CustomerOrder.objects.get(reference="PO-ADMIN")
    assert AuditEvent.objects.filter(action="order.create", target="PO-ADMIN").exists()
    trackers = stock(3)

    page = staff_client.get(reverse("admin:fleet_customerorder_change", args=[order.pk]))
    assert reverse("admin:fleet_order_allocate", args=[order.pk]) in page.content.decode()

    response = staff_client.post(
        reverse("admin:fleet_order_allocate", args=[order.pk]),
        {"macs_text": macs(trackers[:2], sep=", ")},
    )
    assert response.status_code == 302
    response = staff_client.post(
        reverse("admin:fleet_order_allocate", args=[order.pk]), {"count": 1}
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.ALLOCATED

    response = staff_client.post(
        reverse("admin:fleet_order_import", args=[order.pk]),
        {"production_run": world.run_a.pk, "macs_text": trackers[0].mac_address},
    )
    assert response.status_code == 302
    assert Tracker.objects.get(pk=trackers[0].pk).lifecycle_state == "ACTIVE"

    # Cancelling is refused while a tracker is active; the page says why.
    response = staff_client.post(reverse("admin:fleet_order_cancel", args=[order.pk]), follow=True)
    assert any("cannot be cancelled" in m for m in _messages(response))
    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.ALLOCATED

    response = staff_client.post(
        reverse("admin:fleet_order_import", args=[order.pk]),
        {"production_run": world.run_a.pk, "whole_order": "on"},
    )
    assert response.status_code == 302
    assert set(
        Tracker.objects.filter(pk__in=[t.pk for t in trackers]).values_list(
            "lifecycle_state", flat=True
        )
    ) == {"ACTIVE"}


def test_admin_order_cancel_returns_trackers_to_stock(staff_client, world, stock):
    order = CustomerOrderFactory(client=world.client_b, quantity=2)
    trackers = stock(2)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)
    page = staff_client.get(reverse("admin:fleet_order_cancel", args=[order.pk]))
    assert trackers[0].mac_address in page.content.decode()
    response = staff_client.post(reverse("admin:fleet_order_cancel", args=[order.pk]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == CustomerOrder.Status.CANCELLED


def test_admin_import_page_without_order_refuses_other_clients_trackers(
    staff_client, world, stock, unchanged
):
    order = CustomerOrderFactory(client=world.client_a, quantity=1)
    trackers = stock(1)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)
    check = unchanged()
    response = staff_client.post(
        reverse("admin:fleet_trackers_import"),
        {"production_run": world.run_b.pk, "macs_text": trackers[0].mac_address},
    )
    assert response.status_code == 200
    assert f'line 1: "{trackers[0].mac_address}" is allocated to another client' in unescape(
        " ".join(_messages(response))
    )
    check()


@pytest.mark.parametrize("persona", ["a_admin", "a_viewer", "b_admin"])
def test_admin_fleet_pages_are_closed_to_customers(client, world, persona):
    order = CustomerOrderFactory(client=world.client_a)
    client.force_login(getattr(world, persona))
    for url in [
        reverse("admin:tracking_keybatch_add"),
        reverse("admin:fleet_devices_receive"),
        reverse("admin:fleet_order_allocate", args=[order.pk]),
        reverse("admin:fleet_trackers_import"),
    ]:
        response = client.get(url)
        assert response.status_code == 302  # to the admin login: customers are not staff
        assert reverse("admin:login") in response["Location"]

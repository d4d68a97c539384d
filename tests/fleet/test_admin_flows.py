"""Lifecycle without guessing: next steps one click away, actions on trackers, messages that
say what happened. Pages are used by a non-superuser in the operations group."""

import hashlib
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from findmy.models import TrackerFetchState
from fleet import services
from fleet.models import CustomerOrder
from geofencing import models as geo_models
from geofencing import services as geo_services
from tests.factories import TrackerFactory
from tests.fleet.factories import CustomerOrderFactory
from tests.fleet.support import macs
from tracking.models import AuditEvent, LocationReport, Tracker

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops(client, staff_in):
    client.force_login(staff_in("operations"))
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _action(client, model: str, action: str, objects, **extra):
    url = reverse(f"admin:{model}_changelist")
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0, **extra}
    return client.post(url, data)


def test_key_batch_page_offers_export_receive_and_its_macs(ops):
    batch = services.keys_generate(batch_name="b1", count=2)
    page = ops.get(reverse("admin:tracking_keybatch_change", args=[batch.pk])).content.decode()
    assert reverse("admin:fleet_keybatch_export", args=[batch.pk]) in page
    assert reverse("admin:fleet_devices_receive") in page
    macs_url = reverse("admin:tracking_tracker_changelist") + f"?key_batch__id__exact={batch.pk}"
    assert macs_url in page
    listed = ops.get(macs_url).context["cl"].result_count
    assert listed == 2


def test_a_new_order_opens_on_its_page_with_allocate_next(ops, world):
    response = ops.post(
        reverse("admin:fleet_customerorder_add"),
        {"client": world.client_a.pk, "reference": "PO-77", "quantity": 3},
    )
    order = CustomerOrder.objects.get(reference="PO-77")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:fleet_customerorder_change", args=[order.pk])
    assert _messages(response) == ['Order "PO-77" created. Next step: allocate its trackers.']
    page = ops.get(response["Location"]).content.decode()
    assert reverse("admin:fleet_order_allocate", args=[order.pk]) in page


def test_a_duplicate_order_reference_is_a_form_error(ops, world):
    CustomerOrderFactory(client=world.client_a, reference="PO-1")
    response = ops.post(
        reverse("admin:fleet_customerorder_add"),
        {"client": world.client_a.pk, "reference": "  PO-1 ", "quantity": 3},
    )
    assert response.status_code == 200
    assert "reference" in response.context["adminform"].form.errors
    assert CustomerOrder.objects.count() == 1


def test_an_order_with_active_trackers_says_up_front_it_cannot_be_cancelled(ops, world, stock):
    trackers = stock(2)
    order = services.order_create(client=world.client_a, reference="PO-9", quantity=2)
    services.order_allocate(order=order, macs_text=macs(trackers))
    services.trackers_import(production_run=world.run_a, macs_text=macs(trackers[:1]))
    page = ops.get(reverse("admin:fleet_order_cancel", args=[order.pk])).content.decode()
    assert "can't be cancelled: 1 of its" in page
    assert trackers[0].mac_address in page
    assert "Yes, cancel the order" not in page


def test_an_order_of_allocated_trackers_offers_the_cancel_button(ops, world, stock):
    trackers = stock(1)
    order = services.order_create(client=world.client_a, reference="PO-10", quantity=1)
    services.order_allocate(order=order, macs_text=macs(trackers))
    page = ops.get(reverse("admin:fleet_order_cancel", args=[order.pk])).content.decode()
    assert "Yes, cancel the order" in page


@pytest.mark.parametrize(
    "data,message",
    [
        ({}, "Nothing was given: upload or paste MAC addresses, or give a count."),
        (
            {"macs_text": "AA:BB:CC:DD:EE:FF", "count": 2},
            "Give MAC addresses or a count, not both.",
        ),
    ],
)
def test_allocate_form_says_what_was_wrong(ops, world, data, message):
    order = services.order_create(client=world.client_a, reference="PO-11", quantity=2)
    response = ops.post(reverse("admin:fleet_order_allocate", args=[order.pk]), data)
    assert response.context["form"].non_field_errors() == [message]


def test_receive_form_says_nothing_was_given(ops):
    response = ops.post(reverse("admin:fleet_devices_receive"), {})
    assert response.context["form"].non_field_errors() == [
        "Nothing was given: upload a file or paste MAC addresses."
    ]


def test_a_refused_file_shows_fifty_reasons_and_how_many_more_in_one_banner(ops):
    bad = "\n".join(f"02:00:00:00:{i // 256:02X}:{i % 256:02X}" for i in range(60))
    response = ops.post(reverse("admin:fleet_devices_receive"), {"macs_text": bad}, follow=True)
    errors = [m for m in response.context["messages"] if m.level_tag == "error"]
    assert len(errors) == 1
    text = str(errors[0])
    assert text.startswith("Refused, nothing was changed:")
    assert text.count("<li>") == 50
    assert text.endswith("and 10 more.")


@pytest.mark.parametrize(
    "spelling", ["{mac}", "{lower}", "{dashes}", "{compact}", "{compact_lower}", "{dots}"]
)
def test_admin_search_finds_a_mac_in_every_spelling(ops, world, spelling):
    mac = world.tracker_a.mac_address
    compact = mac.replace(":", "")
    term = spelling.format(
        mac=mac,
        lower=mac.lower(),
        dashes=mac.replace(":", "-"),
        compact=compact,
        compact_lower=compact.lower(),
        dots=".".join(compact[i : i + 4] for i in range(0, 12, 4)),
    )
    response = ops.get(reverse("admin:tracking_tracker_changelist"), {"q": term})
    assert list(response.context["cl"].result_list) == [world.tracker_a]


def test_fetch_now_puts_trackers_first_without_touching_the_rate_limit(ops, world):
    now = timezone.now()
    waiting = TrackerFactory(production_run=world.run_a)
    TrackerFetchState.objects.create(tracker=waiting, next_due_at=now - timedelta(hours=1))
    TrackerFetchState.objects.create(tracker=world.tracker_a, next_due_at=now + timedelta(hours=2))
    retired = TrackerFactory(production_run=world.run_a, lifecycle_state="RETIRED")

    response = _action(ops, "tracking_tracker", "fetch_now", [world.tracker_a, retired])

    assert response.status_code == 302
    due = list(TrackerFetchState.objects.order_by("next_due_at").values_list("tracker", flat=True))
    assert due[0] == world.tracker_a.pk
    assert not TrackerFetchState.objects.filter(tracker=retired).exists()
    assert "1 trackers are first in the fetch queue" in _messages(response)[0]
    assert "1 not fetchable" in _messages(response)[0]
    assert AuditEvent.objects.filter(action="fetch.now").count() == 1


def test_reevaluate_status_on_trackers_and_runs(ops, world):
    place = geo_services.place_create(
        client=world.client_a, kind="DELIVERY", name="Shop", radius_m=200,
        point=Point(16.37, 48.2, srid=4326), production_runs=[world.run_a],
    )  # fmt: skip
    for i, tracker in enumerate([world.tracker_a, TrackerFactory(production_run=world.run_a)]):
        for minutes in (30, 20, 10):
            LocationReport.objects.create(
                tracker=tracker, observed_at=timezone.now() - timedelta(minutes=minutes),
                point=place.point, horizontal_accuracy=10, confidence=2, status_byte=0,
                payload_hash=hashlib.sha256(f"{i}-{minutes}".encode()).digest(),
            )  # fmt: skip

    response = _action(ops, "tracking_tracker", "reevaluate_status", [world.tracker_a])
    assert "Status re-evaluated for 1 trackers" in _messages(response)[0]
    world.tracker_a.refresh_from_db()
    assert world.tracker_a.status == Tracker.Status.DELIVERED
    assert Tracker.objects.filter(status=Tracker.Status.DELIVERED).count() == 1

    response = _action(ops, "tracking_productionrun", "reevaluate_status", [world.run_a])
    assert "Status re-evaluated for 2 trackers" in _messages(response)[-1]
    assert Tracker.objects.filter(status=Tracker.Status.DELIVERED).count() == 2


def test_retire_asks_for_a_reason_then_retires_through_the_service(ops, world):
    trackers = [world.tracker_a, TrackerFactory(production_run=world.run_a)]
    page = _action(ops, "tracking_tracker", "retire", trackers)
    assert page.status_code == 200
    assert "Retire 2 trackers" in page.content.decode()

    refused = _action(ops, "tracking_tracker", "retire", trackers, reason="")
    assert refused.status_code == 200
    assert Tracker.objects.filter(lifecycle_state="RETIRED").count() == 0

    done = _action(ops, "tracking_tracker", "retire", trackers, reason="water damage")
    assert done.status_code == 302
    assert _messages(done) == ["2 trackers retired."]
    assert Tracker.objects.filter(lifecycle_state="RETIRED").count() == 2
    event = AuditEvent.objects.get(action="trackers.retire")
    assert event.details["reason"] == "water damage"


@pytest.mark.parametrize("group", ["support", "viewer"])
def test_lifecycle_actions_are_offered_only_to_operations(client, staff_in, world, group):
    client.force_login(staff_in(group))
    response = client.get(reverse("admin:tracking_tracker_changelist"))
    action_form = response.context["action_form"]  # None: no action at all for this group
    actions = [name for name, _ in action_form.fields["action"].choices] if action_form else []
    assert not {"fetch_now", "reevaluate_status", "retire"} & set(actions)
    refused = _action(client, "tracking_tracker", "retire", [world.tracker_a], reason="x")
    world.tracker_a.refresh_from_db()
    assert world.tracker_a.lifecycle_state == "ACTIVE"
    assert refused.status_code in (200, 302, 403)


def test_lifecycle_actions_are_offered_to_operations(ops):
    response = ops.get(reverse("admin:tracking_tracker_changelist"))
    actions = [name for name, _ in response.context["action_form"].fields["action"].choices]
    assert {"fetch_now", "reevaluate_status", "retire"} <= set(actions)


@pytest.mark.parametrize(
    "changelist",
    [
        "admin:tracking_locationreport_changelist",
        "admin:geofencing_statushistory_changelist",
        "admin:findmy_trackerfetchstate_changelist",
    ],
)
def test_every_list_of_a_trackers_rows_finds_it_by_mac_in_any_spelling(ops, world, changelist):
    now = timezone.now()
    for i, tracker in enumerate([world.tracker_a, world.tracker_b]):
        LocationReport.objects.create(
            tracker=tracker, observed_at=now, point=Point(16.3, 48.2, srid=4326),
            horizontal_accuracy=10, confidence=2, status_byte=0,
            payload_hash=hashlib.sha256(f"search-{i}".encode()).digest(),
        )  # fmt: skip
        TrackerFetchState.objects.create(tracker=tracker)
        geo_models.StatusHistory.objects.create(
            tracker=tracker, from_status="UNKNOWN", to_status="IN_TRANSIT", at=now
        )
    spelled = world.tracker_a.mac_address.replace(":", "").lower()
    rows = ops.get(reverse(changelist), {"q": spelled}).context["cl"].result_list
    assert [row.tracker_id for row in rows] == [world.tracker_a.pk]

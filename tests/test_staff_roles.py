"""Staff roles: every staff member sees every client; what they may do comes from their group."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from tests.factories import TrackerFactory
from trackersite.services import OPERATIONS, SUPPORT, VIEWER, staff_groups_install

LIFECYCLE_PAGES = [
    ("admin:tracking_keybatch_add", []),
    ("admin:fleet_devices_receive", []),
    ("admin:fleet_trackers_import", []),
    ("admin:fleet_customerorder_add", []),
    ("admin:findmy_appleaccount_add", []),
]


@pytest.fixture
def as_staff(client, staff_in):
    def log_in(group):
        client.force_login(staff_in(group))
        return client

    return log_in


@pytest.mark.django_db
def test_the_groups_exist_after_migrate_and_the_command_is_idempotent():
    assert set(Group.objects.values_list("name", flat=True)) >= {OPERATIONS, SUPPORT, VIEWER}
    before = staff_groups_install()
    call_command("install_staff_groups")
    assert staff_groups_install() == before
    assert before[VIEWER] < before[SUPPORT] < before[OPERATIONS]


@pytest.mark.django_db
@pytest.mark.parametrize("group", [OPERATIONS, SUPPORT, VIEWER])
def test_every_staff_group_sees_every_clients_trackers(as_staff, world, group):
    response = as_staff(group).get(reverse("admin:tracking_tracker_changelist"))
    assert response.status_code == 200
    page = response.content.decode()
    assert world.tracker_a.mac_address in page
    assert world.tracker_b.mac_address in page


@pytest.mark.django_db
@pytest.mark.parametrize("name,args", LIFECYCLE_PAGES)
def test_operations_may_open_the_lifecycle_pages(as_staff, name, args):
    assert as_staff(OPERATIONS).get(reverse(name, args=args)).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("group", [SUPPORT, VIEWER])
@pytest.mark.parametrize("name,args", LIFECYCLE_PAGES)
def test_support_and_viewer_are_refused_the_lifecycle_pages(as_staff, group, name, args):
    assert as_staff(group).get(reverse(name, args=args)).status_code == 403


@pytest.mark.django_db
def test_support_may_change_a_trackers_label_and_nothing_else(as_staff, world):
    client = as_staff(SUPPORT)
    tracker = world.tracker_a
    url = reverse("admin:tracking_tracker_change", args=[tracker.pk])
    page = client.get(url).content.decode()
    assert 'name="label"' in page
    assert 'name="status"' not in page
    response = client.post(url, {"label": "pallet 7", "status": "DELIVERED"})
    assert response.status_code == 302
    tracker.refresh_from_db()
    assert tracker.label == "pallet 7"
    assert tracker.status == "UNKNOWN"


@pytest.mark.django_db
def test_support_may_add_places_but_not_production_runs(as_staff):
    client = as_staff(SUPPORT)
    assert client.get(reverse("admin:geofencing_place_add")).status_code == 200
    assert client.get(reverse("admin:tracking_productionrun_add")).status_code == 403


@pytest.mark.django_db
def test_viewer_reads_a_tracker_but_cannot_change_it(as_staff, world):
    client = as_staff(VIEWER)
    url = reverse("admin:tracking_tracker_change", args=[world.tracker_a.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="label"' not in response.content.decode()
    assert client.post(url, {"label": "x"}).status_code == 403


@pytest.mark.django_db
def test_operation_links_show_only_to_operations(as_staff, client, staff_in):
    url = reverse("admin:tracking_keybatch_changelist")
    receive = reverse("admin:fleet_devices_receive")
    assert receive in as_staff(OPERATIONS).get(url).content.decode()
    client.force_login(staff_in(SUPPORT, username="sam"))
    assert receive not in client.get(url).content.decode()


@pytest.mark.django_db
def test_derived_data_is_read_only_even_for_operations(as_staff, world):
    client = as_staff(OPERATIONS)
    for name in ("admin:tracking_locationreport_add", "admin:geofencing_statushistory_add"):
        assert client.get(reverse(name)).status_code == 403, name
    TrackerFactory()
    assert client.get(reverse("admin:tracking_tracker_add")).status_code == 403

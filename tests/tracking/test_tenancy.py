from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import BrandFactory, ProductionRunFactory, UserFactory
from tracking.models import Brand, Client, ProductionRun


def test_visible_to_staff_sees_every_client(world):
    assert set(Client.objects.visible_to(world.staff)) == {world.client_a, world.client_b}


def test_visible_to_member_sees_only_own_clients_rows(world):
    assert list(Client.objects.visible_to(world.a_viewer)) == [world.client_a]
    assert list(ProductionRun.objects.visible_to(world.a_viewer)) == [world.run_a]
    assert list(Brand.objects.visible_to(world.b_admin)) == [world.run_b.brand]


def test_visible_to_outsider_and_anonymous_see_nothing(world):
    from django.contrib.auth.models import AnonymousUser

    outsider = UserFactory(username="mallory")
    assert not ProductionRun.objects.visible_to(outsider).exists()
    assert not ProductionRun.objects.visible_to(AnonymousUser()).exists()


def test_visible_to_inactive_member_sees_nothing(world):
    world.a_admin.is_active = False
    world.a_admin.save()
    assert not ProductionRun.objects.visible_to(world.a_admin).exists()


def test_administered_by_excludes_viewers(world):
    assert list(ProductionRun.objects.administered_by(world.a_admin)) == [world.run_a]
    assert not ProductionRun.objects.administered_by(world.a_viewer).exists()


def test_production_run_clean_rejects_end_before_start(db):
    now = timezone.now()
    run = ProductionRun(brand=BrandFactory(), name="x", starts_at=now, ends_at=now)
    with pytest.raises(ValidationError) as excinfo:
        run.full_clean()
    assert "ends_at" in excinfo.value.message_dict


def test_production_run_database_rejects_end_before_start(db):
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductionRun.objects.create(
            brand=BrandFactory(), name="x", starts_at=now, ends_at=now - timedelta(hours=1)
        )


@pytest.mark.parametrize(
    ("start", "end", "phase"),
    [(1, 2, "UPCOMING"), (-1, 1, "LIVE"), (-2, -1, "ENDED")],
)
def test_production_run_phase_follows_dates(db, start, end, phase):
    now = timezone.now()
    run = ProductionRunFactory(
        starts_at=now + timedelta(days=start), ends_at=now + timedelta(days=end)
    )
    assert run.phase() == phase


def test_dashboard_lists_only_own_runs_with_phase(client, world):
    ProductionRunFactory(
        brand=world.run_a.brand,
        name="Alpha next run",
        starts_at=timezone.now() + timedelta(days=3),
        ends_at=timezone.now() + timedelta(days=9),
    )
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:dashboard")).content.decode()
    assert "Alpha spring run" in html and "Alpha next run" in html
    assert "Bravo summer run" not in html and "Bravo Retail" not in html
    assert "Live" in html and "Upcoming" in html


def test_run_page_of_other_client_answers_404(client, world):
    client.force_login(world.b_admin)
    assert client.get(reverse("portal:run-detail", args=[world.run_a.pk])).status_code == 404


def test_login_page_logs_a_customer_in(client, world):
    response = client.post(
        reverse("login"), {"username": "alice", "password": "pass-for-tests"}, follow=True
    )
    assert response.status_code == 200
    assert "Alpha spring run" in response.content.decode()


def test_run_page_maps_last_positions_of_own_trackers_only(client, world):
    from django.contrib.gis.geos import Point

    world.tracker_a.last_point = Point(16.37, 48.21, srid=4326)
    world.tracker_a.last_report_at = timezone.now()
    world.tracker_a.save()
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:run-detail", args=[world.run_a.pk])).content.decode()
    assert 'id="run-map-data"' in html
    # The page embeds the places; the map fetches the trackers from the run's endpoint.
    data = client.get(reverse("portal:run-geojson", args=[world.run_a.pk])).content.decode()
    assert world.tracker_a.mac_address in data and "48.21" in data
    assert world.tracker_b.mac_address not in data + html

"""Place admin: Leaflet editing, tenancy of production runs checked in the form."""

import pytest
from django.urls import reverse

from geofencing.admin import PlaceAdminForm
from geofencing.models import Place


def _data(world, runs, **extra):
    return {"client": world.client_a.pk, "kind": Place.Kind.STORAGE, "name": "Depot",
            "address": "", "point": "SRID=4326;POINT(16.37 48.2)", "radius_m": 100,
            "production_runs": [r.pk for r in runs], **extra}  # fmt: skip


@pytest.mark.django_db
def test_admin_form_refuses_another_clients_run(world):
    form = PlaceAdminForm(data=_data(world, [world.run_a, world.run_b]))
    assert not form.is_valid()
    assert "production_runs" in form.errors


@pytest.mark.django_db
def test_admin_form_saves_a_place_for_its_own_run(world):
    form = PlaceAdminForm(data=_data(world, [world.run_a]))
    assert form.is_valid(), form.errors
    place = form.save()
    assert list(place.production_runs.all()) == [world.run_a]


@pytest.mark.django_db
def test_admin_pages_open_for_staff(client, world, make_place):
    place = make_place(world.run_a, Place.Kind.DELIVERY, 16.37, 48.2)
    client.force_login(world.staff)
    for url in (
        reverse("admin:geofencing_place_changelist"),
        reverse("admin:geofencing_place_change", args=[place.pk]),
        reverse("admin:geofencing_place_add"),
        reverse("admin:geofencing_statushistory_changelist"),
        reverse("admin:geofencing_city_changelist"),
    ):
        assert client.get(url).status_code == 200, url

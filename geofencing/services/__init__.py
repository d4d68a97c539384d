"""Every write of geofencing: places, the status engine, roll-ups and nearest-city labels.

The bulk jobs (status engine, roll-ups, city labels) are set-based SQL over tracking's tables;
each takes a transaction-level advisory lock (locks.py), so two workers running the same job
queue up instead of doing the work twice.
"""

from .cities import CITY_REACH_M, cities_load, city_at, label_nearest_cities, nearest_city
from .locks import LOCK_CITIES, LOCK_ROLLUP, LOCK_STATUS
from .places import (
    check_runs_belong_to,
    place_create,
    place_delete,
    place_set_production_runs,
    place_update,
    places_seed_demo,
    point_for,
    point_of_polygon,
    polygon_from_ring,
)
from .rollups import RollupResult, rollup_locations
from .statuses import (
    EvaluationResult,
    effective_status_watermark,
    evaluate_statuses,
    wait_for_status_evaluation,
)

__all__ = [
    "CITY_REACH_M",
    "LOCK_CITIES",
    "LOCK_ROLLUP",
    "LOCK_STATUS",
    "EvaluationResult",
    "RollupResult",
    "check_runs_belong_to",
    "cities_load",
    "city_at",
    "effective_status_watermark",
    "evaluate_statuses",
    "label_nearest_cities",
    "nearest_city",
    "place_create",
    "place_delete",
    "place_set_production_runs",
    "place_update",
    "places_seed_demo",
    "point_for",
    "point_of_polygon",
    "polygon_from_ring",
    "rollup_locations",
    "wait_for_status_evaluation",
]

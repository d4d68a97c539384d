"""The FindMy simulator's routes: a run's trackers travel between the run's places.

findmy never imports geofencing, so the simulator takes its routes through findmy.simulator's
RunRoutes interface and the project wires this function in (FINDMY_SIMULATOR_ROUTES).
"""

from __future__ import annotations

from collections.abc import Collection

from geofencing.models import Place


def run_place_routes(run_ids: Collection[int]) -> dict[int, list[tuple[float, float]]]:
    """(latitude, longitude) of each run's places, in the order they were created."""
    links = (
        Place.production_runs.through.objects.filter(productionrun_id__in=list(run_ids))
        .order_by("place_id")
        .values_list("productionrun_id", "place__point")
    )
    routes: dict[int, list[tuple[float, float]]] = {}
    for run_id, point in links:
        routes.setdefault(run_id, []).append((point.y, point.x))
    return routes

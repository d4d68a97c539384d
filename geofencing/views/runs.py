"""Portal: a production run's page (progress, places and trackers on a map that refreshes
itself, the trackers' table a page at a time) and its map's GeoJSON endpoint."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tracking import geojson, selectors
from tracking.models import Tracker

from .. import selectors as geo_selectors
from .dashboard import status_progress, tracker_url_pattern

TRACKERS_PER_PAGE = 50
# ?sort= values: the table's columns a customer may sort by, each with a tie-break so that
# pages never overlap. A leading "-" reverses. Statuses sort as the run progresses
# (DELIVERED, IN_STORAGE, IN_TRANSIT, UNKNOWN: their values' alphabetical order).
SORTS = {
    "status": [F("status").asc(), F("label").asc(), F("mac_address").asc()],
    "last_seen": [F("last_report_at").desc(nulls_last=True), F("mac_address").asc()],
    "label": [F("label").asc(), F("mac_address").asc()],
}
DEFAULT_SORT = "status"
# The table's rows are plain values (no model, no geometry), their links built from one
# pattern: 50 rows cost what 5 would.
ROW = ["id", "mac_address", "label", "status", "last_report_at", "nearest_city",
       "nearest_country_code"]  # fmt: skip
STATUS_LABELS = dict(Tracker.Status.choices)


def _sort(request) -> tuple[str, list]:
    """The table's order from ?sort= (an unknown value falls back to the default)."""
    requested = request.GET.get("sort", DEFAULT_SORT)
    key = requested.removeprefix("-")
    if key not in SORTS:
        return DEFAULT_SORT, SORTS[DEFAULT_SORT]
    order = SORTS[key]
    if requested.startswith("-"):
        order = [term.copy() for term in order]
        for term in order:
            term.reverse_ordering()
    return requested, order


@login_required
@require_GET
def production_run_detail(request, pk: int):
    user = request.user
    run = selectors.production_run_get(user=user, pk=pk)
    counts = selectors.tracker_status_counts(user=user, production_runs=[run.pk])
    places = list(geo_selectors.place_list(user=user, production_run=run))
    sort, order = _sort(request)
    page = Paginator(
        selectors.tracker_list(user=user, production_run=run).order_by(*order).values(*ROW),
        TRACKERS_PER_PAGE,
    ).get_page(request.GET.get("page"))
    tracker_url = tracker_url_pattern()
    page.object_list = [
        row | {"url": tracker_url.replace("{id}", str(row["id"])),
               "status_key": row["status"].lower(), "status_label": STATUS_LABELS[row["status"]]}
        for row in page.object_list
    ]  # fmt: skip
    return render(
        request,
        "portal/run_detail.html",
        {
            "run": run,
            "brand": run.brand,
            "progress": status_progress(counts[run.pk]),
            "places": places,
            # The page carries the places only; the map fetches the trackers at once.
            "features": geojson.feature_collection(geojson.place_feature(p) for p in places),
            "map_url": reverse("portal:run-geojson", args=[run.pk]),
            "map_refresh_seconds": settings.PORTAL_MAP_REFRESH_SECONDS,
            "tracker_url": tracker_url,
            "page": page,
            "sort": sort,
            "sorts": {key: ("-" + key if sort == key else key) for key in SORTS},
        },
    )


@login_required
@require_GET
def production_run_geojson(request, pk: int):
    """The run's map: its places and its trackers' last positions, for its viewers only."""
    user = request.user
    run = selectors.production_run_get(user=user, pk=pk)
    places = geo_selectors.place_list(user=user, production_run=run)
    return geojson.response(
        geojson.feature_collection(geojson.place_feature(place) for place in places),
        features_json=selectors.tracker_position_features_json(user=user, production_run=run),
    )

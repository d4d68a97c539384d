"""Portal: a production run's page (progress, places and trackers on a map that refreshes
itself, the trackers' table a page at a time) and its map's GeoJSON endpoint."""

from html import escape

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from tracking import geojson, selectors
from tracking.models import Tracker
from tracking.timezones import local_text

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


# The table's rows are written here rather than in the template, like the tracker list's
# (tracking.views.trackers): fifty rows of template nodes cost more than the rest of the
# page. Every value goes through `escape` (html.escape, quotes too).
def _row_html(row: dict, url: str) -> str:
    e = escape
    status = row["status"]
    near = ", ".join(filter(None, [row["nearest_city"], row["nearest_country_code"]]))
    return mark_safe(  # every value in it is escaped
        f'<tr data-tracker="{int(row["id"])}">'
        f'<td><a href="{e(url)}"><code>{e(row["mac_address"])}</code></a></td>'
        f"<td>{e(row['label'])}</td>"
        f'<td><span class="status status-{e(status.lower())}">'
        f"{e(STATUS_LABELS.get(status, status))}</span></td>"
        f'<td class="nowrap">{e(local_text(row["last_report_at"]) or "never")}</td>'
        f"<td>{e(near)}</td>"
        "</tr>"
    )


@login_required
@require_GET
def production_run_detail(request, pk: int):
    user = request.user
    run = selectors.production_run_get(user=user, pk=pk)
    counts, total = selectors.run_tracker_counts(user=user, production_run=run)
    places = list(geo_selectors.place_list(user=user, production_run=run))
    sort, order = _sort(request)
    paginator = Paginator(
        selectors.tracker_list(user=user, production_run=run).order_by(*order).values(*ROW),
        TRACKERS_PER_PAGE,
    )
    paginator.count = total  # counted with the statuses: no COUNT(*) of its own
    page = paginator.get_page(request.GET.get("page"))
    tracker_url = tracker_url_pattern()
    page.object_list = [
        row | {"html": _row_html(row, tracker_url.replace("{id}", str(row["id"])))}
        for row in page.object_list
    ]
    return render(
        request,
        "portal/run_detail.html",
        {
            "run": run,
            "brand": run.brand,
            "progress": status_progress(counts),
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

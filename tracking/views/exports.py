"""Portal downloads of tracker tables, streamed (tracking/exports.py): the tracker list as
filtered and sorted on its page, and a production run's trackers with their statuses."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from .. import exports, selectors
from ..selectors import coordinates
from .trackers import tracker_filter_form

TRACKER_HEADER = [
    "mac_address",
    "label",
    "status",
    "status_changed_at",
    "production_run",
    "brand",
    "client",
    "last_seen_at",
    "latitude",
    "longitude",
    "accuracy_m",
    "nearest_city",
    "country_code",
]
# Plain values, read through a server-side cursor: no model instance (and no key) per row.
TRACKER_VALUES = (
    "mac_address",
    "label",
    "status",
    "status_changed_at",
    "production_run__name",
    "production_run__brand__name",
    "client__name",
    "last_report_at",
    "lat",
    "lon",
    "last_accuracy_m",
    "nearest_city",
    "nearest_country_code",
)


def _tracker_line(row: tuple) -> list:
    (mac, label, status, changed_at, run, brand, client, seen_at, lat, lon, accuracy, city,
     country) = row  # fmt: skip
    return [
        mac,
        exports.text(label),
        status,
        exports.iso(changed_at),
        exports.text(run),
        exports.text(brand),
        exports.text(client),
        exports.iso(seen_at),
        exports.number(lat),
        exports.number(lon),
        exports.number(accuracy),
        exports.text(city),
        country,
    ]


def _tracker_rows(trackers):
    return (
        trackers.annotate(**coordinates("last_point"))
        .values_list(*TRACKER_VALUES)
        .iterator(chunk_size=exports.CHUNK_ROWS)
    )


@login_required
@require_GET
def tracker_list_csv(request):
    """The list's trackers, every page, with the list's filters and order."""
    filters = tracker_filter_form(request).filters()
    trackers = selectors.tracker_table(user=request.user, filters=filters)
    return exports.download(
        exports.csv_chunks(TRACKER_HEADER, _tracker_rows(trackers), _tracker_line),
        fmt="csv",
        filename=f"trackers-{timezone.now():%Y%m%d-%H%M}.csv",
    )


@login_required
@require_GET
def run_trackers_csv(request, pk: int):
    """A production run's trackers with their statuses (404 for another client's run)."""
    run = selectors.production_run_get(user=request.user, pk=pk)
    trackers = selectors.tracker_list(user=request.user, production_run=run).order_by(
        "mac_address", "id"
    )
    return exports.download(
        exports.csv_chunks(TRACKER_HEADER, _tracker_rows(trackers), _tracker_line),
        fmt="csv",
        filename=f"run-{run.pk}-{slugify(run.name) or 'trackers'}-{timezone.now():%Y%m%d}.csv",
    )

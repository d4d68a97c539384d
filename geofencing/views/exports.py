"""Portal: a tracker's history as a download (CSV, GPX 1.1, GeoJSON), for the range its page
shows (?days=N, or ?start=&end=), streamed from a server-side cursor (tracking/exports.py).
The reports come through tracking.selectors.tracker_report_rows, so what a customer may read
of a tracker (nothing before its activation) is decided in one place."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest
from django.utils import timezone
from django.views.decorators.http import require_GET

from tracking import exports, selectors

from .history import RangeError, parse_range

FORMATS = ("csv", "gpx", "geojson")
CSV_HEADER = ["mac_address", "observed_at", "latitude", "longitude", "horizontal_accuracy_m"]


@login_required
@require_GET
def tracker_history_export(request, pk: int, fmt: str):
    tracker = selectors.tracker_get(user=request.user, pk=pk)  # scope first: 404
    if fmt not in FORMATS:
        raise Http404(f"No export as {fmt!r}.")
    try:
        chosen = parse_range(request, now=timezone.now())
    except RangeError as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    start, end = chosen.start, chosen.end
    rows = selectors.tracker_report_rows(
        user=request.user, tracker=tracker, start=start, end=end
    ).iterator(chunk_size=exports.CHUNK_ROWS)
    mac = tracker.mac_address
    local = timezone.localtime
    filename = f"tracker-{mac.replace(':', '')}-{local(start):%Y%m%d}-{local(end):%Y%m%d}.{fmt}"
    name = f"{mac} · {tracker.label}" if tracker.label else mac
    if fmt == "csv":
        chunks = exports.csv_chunks(
            CSV_HEADER,
            rows,
            lambda row: [
                mac,
                exports.iso(row[0]),
                exports.number(row[2]),
                exports.number(row[1]),
                row[3],
            ],  # fmt: skip
        )
    elif fmt == "gpx":
        chunks = exports.gpx_chunks(
            name=name, points=((lon, lat, at) for at, lon, lat, _ in rows), at=timezone.now()
        )
    else:
        chunks = exports.geojson_chunks(
            features=rows,
            feature=lambda row: {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [row[1], row[2]]},
                "properties": {"observed_at": exports.iso(row[0]), "accuracy_m": row[3]},
            },
            properties={
                "mac_address": mac,
                "label": tracker.label,
                "start": exports.iso(start),
                "end": exports.iso(end),
            },
        )
    return exports.download(chunks, fmt=fmt, filename=filename)

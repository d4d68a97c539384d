"""Portal: a tracker's page (its path, position and status history)."""

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date

from tracking import geojson
from tracking.models import Tracker
from tracking.selectors import get_visible_or_404

from .. import selectors

RANGES = {"1": 1, "2": 2, "7": 7, "30": 30, "90": 90, "365": 365}


def _day(request, name: str):
    """The ?name=YYYY-MM-DD parameter as a date, None when absent; ValueError names it."""
    raw = request.GET.get(name) or ""
    try:
        day = parse_date(raw)  # None for a bad shape, ValueError for 2024-02-30
    except ValueError:
        day = None
    if raw and day is None:
        raise ValueError(f"{name}={raw!r} is not a date (YYYY-MM-DD)")
    return day


def _range(request) -> tuple[datetime, datetime, str]:
    """?days=N (default 2), or ?start=YYYY-MM-DD&end=YYYY-MM-DD (whole days in the person's
    timezone)."""
    start_day = _day(request, "start")
    end_day = _day(request, "end")
    if start_day and end_day and start_day <= end_day:
        zone = timezone.get_current_timezone()
        start = datetime.combine(start_day, time.min, tzinfo=zone)
        end = datetime.combine(end_day, time.max, tzinfo=zone)
        return start, end, ""
    days = request.GET.get("days", "2")
    days = days if days in RANGES else "2"
    end = timezone.now()
    return end - timedelta(days=RANGES[days]), end, days


@login_required
def tracker_history(request, pk: int):
    try:
        start, end, days = _range(request)
    except ValueError as exc:
        # Scope first: another client's tracker answers 404 whatever the query says.
        get_visible_or_404(Tracker.objects, request.user, pk=pk)
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    history = selectors.tracker_history(user=request.user, tracker_id=pk, start=start, end=end)
    map_features = geojson.feature_collection(
        [
            *(geojson.place_feature(place) for place in history.places),
            geojson.track_feature(
                [(p.longitude, p.latitude, p.at, p.reports) for p in history.track],
                resolution=history.resolution,
            ),
            geojson.tracker_feature(history.tracker),
        ]
    )
    return render(
        request,
        "geofencing/tracker_history.html",
        {"history": history, "map_features": map_features, "days": days, "ranges": RANGES},
    )

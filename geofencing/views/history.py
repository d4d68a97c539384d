"""Portal: a tracker's page (its path over a range, last position, status timeline)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from tracking import geojson
from tracking.timezones import local_text

from .. import selectors

# ?days= presets: value -> (label, days)
PRESETS = {
    "1": ("24 h", 1),
    "2": ("2 d", 2),
    "7": ("7 d", 7),
    "30": ("30 d", 30),
    "90": ("90 d", 90),
    "365": ("365 d", 365),
}
DEFAULT_PRESET = "2"
LOCAL_INPUT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows


class RangeError(ValueError):
    """A bad range parameter; the message names the field and the value."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Range:
    start: datetime
    end: datetime
    preset: str  # a PRESETS key, or "" for a custom range


def _moment(request, name: str, *, end_of_day: bool) -> datetime | None:
    """?name= as an aware datetime in the person's timezone: YYYY-MM-DDTHH:MM (what a
    datetime-local input sends) or a whole day YYYY-MM-DD; None when empty."""
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)  # a whole day first: parse_datetime reads one as its midnight
        if day is not None:
            moment = datetime.combine(day, time.max if end_of_day else time.min)
        else:
            moment = parse_datetime(raw)
    except ValueError:  # the right shape, an impossible value (2026-02-30)
        moment = None
    if moment is None:
        raise RangeError(name, f"{raw!r} is not a date and time (YYYY-MM-DDTHH:MM)")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def parse_range(request, *, now: datetime) -> Range:
    """?days=<preset> (default 2), or ?start=...&end=... in the person's timezone."""
    if "start" in request.GET or "end" in request.GET:
        start = _moment(request, "start", end_of_day=False)
        end = _moment(request, "end", end_of_day=True)
        if start is None:
            raise RangeError("start", "missing: a custom range needs a start and an end")
        if end is None:
            raise RangeError("end", "missing: a custom range needs a start and an end")
        if end <= start:
            raise RangeError(
                "end", f"{local_text(end)} is not after the start, {local_text(start)}"
            )
        longest = settings.GEOFENCING_HISTORY_MAX_DAYS
        if end - start > timedelta(days=longest):
            raise RangeError("end", f"the range is longer than {longest} days")
        return Range(start, end, "")
    preset = request.GET.get("days", DEFAULT_PRESET)
    if preset not in PRESETS:
        raise RangeError("days", f"{preset!r} is not one of {', '.join(PRESETS)}")
    return Range(now - timedelta(days=PRESETS[preset][1]), now, preset)


def age_text(moment: datetime | None, *, now: datetime) -> str:
    """How long ago: "just now", "12 min ago", "3 h ago", "5 d ago"."""
    if moment is None:
        return "never"
    minutes = int((now - moment).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"{minutes // (24 * 60)} d ago"


@login_required
def tracker_history(request, pk: int):
    now = timezone.now()
    error = None
    try:
        chosen = parse_range(request, now=now)
    except RangeError as exc:
        error = exc
        chosen = Range(now - timedelta(days=PRESETS[DEFAULT_PRESET][1]), now, DEFAULT_PRESET)
    # The tracker is found visible (404 otherwise) before anything else is answered.
    history = selectors.tracker_history(
        user=request.user, tracker_id=pk, start=chosen.start, end=chosen.end
    )
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
    custom = {
        name: (
            request.GET.get(name, "")
            if error
            else timezone.localtime(getattr(chosen, name)).strftime(LOCAL_INPUT)
        )
        for name in ("start", "end")
    }
    return render(
        request,
        "geofencing/tracker_history.html",
        {
            "history": history,
            "map_features": map_features,
            "range": chosen,
            "presets": PRESETS,
            "custom": custom,
            "range_error": error,
            "last_seen": age_text(history.tracker.last_report_at, now=now),
        },
        status=400 if error else 200,
    )

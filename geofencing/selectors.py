"""Every read a user can make of places, status history and a tracker's track, scoped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.gis.db.models.functions import Area, AsGeoJSON
from django.db.models import (
    DateTimeField,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Lag, Lead
from django.utils import timezone

from tracking.models import ProductionRun, Tracker
from tracking.selectors import (
    coordinates,
    customer_reports,
    customer_rollups,
    get_visible_or_404,
)

from .models import Place, StatusHistory


def place_list(*, user, production_run=None) -> QuerySet[Place]:
    places = Place.objects.visible_to(user).select_related("client")
    if production_run is not None:
        places = places.filter(production_runs=production_run)
    return places.order_by("name")


def place_page_list(*, user) -> QuerySet[Place]:
    """The places of the user's clients for the portal's list and map: each with its client,
    its runs (one query for all) and `area` (a polygon's, else None)."""
    return (
        Place.objects.visible_to(user)
        .select_related("client")
        .prefetch_related(
            Prefetch("production_runs", queryset=ProductionRun.objects.order_by("name"))
        )
        .defer("zone")
        .annotate(area=Area("polygon"))
        .order_by("client__name", "name", "id")
    )


def place_map_rows(*, user, clients=None, exclude: int | None = None) -> QuerySet:
    """The places of the user's clients (of `clients`, when given) as plain rows for a map
    (geojson.place_row_features): no geometry object per row, one query."""
    places = Place.objects.visible_to(user)
    if clients is not None:
        places = places.filter(client__in=clients)
    if exclude is not None:
        places = places.exclude(pk=exclude)
    return (
        places.annotate(**coordinates("point"), polygon_geojson=AsGeoJSON("polygon", precision=7))
        .values("id", "client_id", "name", "kind", "radius_m", "lon", "lat", "polygon_geojson")
        .order_by("name", "id")
    )


def place_get(*, user, pk: int) -> Place:
    """A place of one of the user's clients, with its runs; another client's is a 404."""
    return get_visible_or_404(
        Place.objects.select_related("client").prefetch_related("production_runs"), user, pk=pk
    )


def status_history_list(*, user, tracker: Tracker) -> QuerySet[StatusHistory]:
    """The tracker's changes, each with `left_at` (when the next change ended this state) and
    `from_place_name` (the place this change left: the previous change's place)."""
    changes = StatusHistory.objects.visible_to(user).filter(tracker=tracker)
    return _with_neighbours(changes)


_CHANGE_ORDER = [F("at").asc(), F("id").asc()]


def recent_status_change_list(*, user, since: datetime, limit: int = 50) -> list[StatusHistory]:
    """The visible trackers' status changes at or after `since`, newest first, at most
    `limit`, in one query; each with its tracker, the place it arrived at and
    `from_place_name` (the place the tracker's previous change arrived at: the one it left)."""
    previous = StatusHistory.objects.filter(
        Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), id__lt=OuterRef("id")),
        tracker=OuterRef("tracker"),
    ).order_by("-at", "-id")
    return list(
        StatusHistory.objects.visible_to(user)
        .filter(at__gte=since)
        .select_related("tracker", "place")
        .only(
            "from_status",
            "to_status",
            "at",
            "tracker__id",
            "tracker__mac_address",
            "tracker__label",
            "place__id",
            "place__name",
            "place__kind",
        )  # fmt: skip
        .annotate(from_place_name=Subquery(previous.values("place__name")[:1]))
        .order_by("-at", "-id")[:limit]
    )


def _with_neighbours(changes: QuerySet, *, left_at_after_last=None) -> QuerySet:
    """`left_at` from the next change (for the last one: `left_at_after_last`), and
    `from_place_name` from the previous change, in (at, id) order."""
    return (
        changes.select_related("place")
        .annotate(
            left_at=Window(Lead("at", default=left_at_after_last), order_by=_CHANGE_ORDER),
            from_place_name=Window(Lag("place__name"), order_by=_CHANGE_ORDER),
        )
        .order_by(*_CHANGE_ORDER)
    )


@dataclass(frozen=True)
class Visit:
    place: Place
    status: str
    arrived_at: datetime
    left_at: datetime | None  # None: still there

    @property
    def status_label(self) -> str:
        return Tracker.Status(self.status).label

    @property
    def dwell(self) -> timedelta:
        return (self.left_at or timezone.now()) - self.arrived_at

    @property
    def dwell_text(self) -> str:
        minutes = max(0, int(self.dwell.total_seconds() // 60))
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        parts = [f"{days} d"] if days else []
        if hours or days:
            parts.append(f"{hours} h")
        parts.append(f"{minutes} min")
        return " ".join(parts)


@dataclass(frozen=True)
class TrackPoint:
    longitude: float
    latitude: float
    at: datetime
    reports: int
    accuracy_m: int


@dataclass
class TrackerHistory:
    tracker: Tracker
    start: datetime
    end: datetime
    resolution: str  # "reports" | "hourly" | "daily"
    track: list[TrackPoint] = field(default_factory=list)
    changes: list[StatusHistory] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)


def _track(
    *, user, tracker: Tracker, start: datetime, end: datetime
) -> tuple[str, list[TrackPoint]]:
    """Raw reports for short ranges; hourly, then daily roll-ups for longer ones."""
    span = end - start
    if span <= timedelta(days=settings.GEOFENCING_HISTORY_RAW_DAYS):
        rows = (
            customer_reports(user=user, tracker=tracker)
            .filter(observed_at__range=(start, end))
            .order_by("observed_at")
            .values_list("point", "observed_at", "horizontal_accuracy")
        )
        return "reports", [TrackPoint(p.x, p.y, at, 1, acc) for p, at, acc in rows]
    resolution = (
        "hourly" if span <= timedelta(days=settings.GEOFENCING_HISTORY_HOURLY_DAYS) else "daily"
    )
    rows = (
        customer_rollups(user=user, resolution=resolution, tracker=tracker)
        .filter(bucket__gte=start, bucket__lte=end)
        .order_by("bucket")
        .values_list("centroid", "first_observed_at", "report_count", "best_accuracy_m")
    )
    return resolution, [TrackPoint(c.x, c.y, at, n, acc) for c, at, n, acc in rows]


def _changes_around(*, user, tracker: Tracker, start: datetime, end: datetime) -> QuerySet:
    """The changes from the last one before `start` (the state the range begins in) up to
    `end`, with the same `left_at` as over the whole history: the last one's comes from the
    first change after `end`."""
    own = StatusHistory.objects.filter(tracker=tracker)
    before = own.filter(at__lt=start).order_by("-at").values("at")[:1]
    after = own.filter(at__gt=end).order_by("at").values("at")[:1]
    changes = StatusHistory.objects.visible_to(user).filter(
        tracker=tracker,
        at__gte=Coalesce(Subquery(before), Value(start), output_field=DateTimeField()),
        at__lte=end,
    )
    return _with_neighbours(changes, left_at_after_last=Subquery(after))


def tracker_history(*, user, tracker_id: int, start: datetime, end: datetime) -> TrackerHistory:
    """A tracker's track, status changes and place visits between start and end."""
    tracker = get_visible_or_404(
        Tracker.objects.select_related("production_run__brand"), user, pk=tracker_id
    )
    resolution, track = _track(user=user, tracker=tracker, start=start, end=end)
    changes = list(_changes_around(user=user, tracker=tracker, start=start, end=end))
    visits = [
        Visit(change.place, change.to_status, change.at, change.left_at)
        for change in changes
        if change.place is not None and (change.left_at is None or change.left_at >= start)
    ]
    places = []
    if tracker.production_run_id:
        places = list(place_list(user=user, production_run=tracker.production_run))
    return TrackerHistory(
        tracker=tracker,
        start=start,
        end=end,
        resolution=resolution,
        track=track,
        changes=[c for c in changes if c.at >= start],
        visits=visits,
        places=places,
    )


def share_link_places(*, link, trackers) -> QuerySet[Place]:
    """The places a share link's page shows: those of its run, or of its tracker's run, and
    of the link's client only (the link is the page's whole scope; there is no user)."""
    if link.production_run_id is not None:
        run_ids = [link.production_run_id]
    else:
        run_ids = [t.production_run_id for t in trackers if t.production_run_id]
    return (
        Place.objects.filter(client_id=link.client_id, production_runs__in=run_ids)
        .distinct()
        .order_by("name")
    )

"""Every read a user can make of places, status history and a tracker's track, scoped."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.gis.db.models.functions import Area, AsGeoJSON
from django.db import connection
from django.db.models import (
    F,
    Prefetch,
    QuerySet,
    Window,
)
from django.db.models.functions import Lag, Lead
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
    """The places of the user's clients (of one run, when given), each with its client;
    without `zone`, the engine's generated shape a page never draws (it loads if asked)."""
    places = Place.objects.visible_to(user).select_related("client").defer("zone")
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
    `from_place_name` (the place this change left: the previous change's place); from the
    tracker's activation on (an earlier run's changes are not this customer's)."""
    changes = StatusHistory.objects.visible_to(user).filter(tracker=tracker)
    if tracker.activated_at is None:
        return changes.none()
    return _with_neighbours(changes.filter(at__gte=tracker.activated_at))


_CHANGE_ORDER = [F("at").asc(), F("id").asc()]


def recent_status_change_list(*, user, since: datetime, limit: int = 50) -> list[dict]:
    """The visible trackers' status changes at or after `since`, newest first, at most
    `limit`, in one query, as plain rows (a dashboard table, not objects to change): the
    change, its tracker's id, MAC and label, the place it arrived at and `from_place_name`
    (the place it left, which the engine records with the change)."""
    return list(
        StatusHistory.objects.visible_to(user)
        .filter(at__gte=since)
        .order_by("-at", "-id")
        .values(
            "id",
            "at",
            "from_status",
            "to_status",
            "tracker_id",
            mac_address=F("tracker__mac_address"),
            label=F("tracker__label"),
            place_name=F("place__name"),
            from_place_name=F("from_place__name"),
        )[:limit]
    )


def _with_neighbours(changes: QuerySet, *, left_at_after_last=None) -> QuerySet:
    """`left_at` from the next change (for the last one: `left_at_after_last`), and
    `from_place_name` from the previous change, in (at, id) order."""
    return (
        changes.select_related("place")
        # The place's name and kind are read; its shapes (the zone above all) are not.
        .defer("place__point", "place__polygon", "place__zone")
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
        return duration_text(self.dwell)


def duration_text(span: timedelta) -> str:
    """ "2 d 3 h 5 min", "4 h 0 min", "12 min"."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] if days else []
    if hours or days:
        parts.append(f"{hours} h")
    parts.append(f"{minutes} min")
    return " ".join(parts)


@dataclass(frozen=True)
class TimelineEntry:
    """One state of the tracker: the status it changed to, where, and for how long."""

    status: str
    at: datetime
    until: datetime | None  # None: still so
    place_name: str  # the place it arrived at ("" in transit)
    left_place_name: str  # the place this change left
    began_before_range: bool  # the state the range opens in

    @property
    def status_label(self) -> str:
        return Tracker.Status(self.status).label

    @property
    def dwell_text(self) -> str:
        return duration_text((self.until or timezone.now()) - self.at)


class TrackPoint(NamedTuple):
    """One point of a path (a tuple: a year's path makes thousands)."""

    longitude: float
    latitude: float
    at: datetime
    reports: int  # 1 for a raw report, else the reports the bucket averages
    accuracy_m: int


RESOLUTIONS = ("reports", "hourly", "daily")  # finest first


@dataclass
class TrackerHistory:
    tracker: Tracker
    start: datetime
    end: datetime
    resolution: str  # the coarsest layer the path uses: "reports" | "hourly" | "daily"
    # Where the path turns finer: the newest part from `finer_from` on is drawn in the next
    # finer layer (hourly -> raw reports, daily -> hourly); None when it is one layer.
    finer_from: datetime | None = None
    track: list[TrackPoint] = field(default_factory=list)
    changes: list[StatusHistory] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    places: list[Place] = field(default_factory=list)

    @property
    def finer_resolution(self) -> str:
        return RESOLUTIONS[RESOLUTIONS.index(self.resolution) - 1] if self.finer_from else ""


# --- The path over a range: the finest resolution the point budget allows -----------------
#
# A range's path is its raw reports while they number at most the budget
# (GEOFENCING_HISTORY_POINT_BUDGET). Beyond it, the newest part stays as fine as the budget
# allows and the older part is drawn coarser: raw reports for the newest hours and hourly
# roll-ups before them, or, when even hourly buckets are too many, hourly buckets for the
# newest days and daily roll-ups before them. The split is chosen at a bucket's edge, as early
# as the budget allows, so a longer range never draws fewer points than a shorter one with
# the same end (it draws min(reports, about the budget)). Buckets the range's ends cut
# through, and the hour or day the roll-ups have not finished, are averaged from the raw
# reports, so every report in the range counts in exactly one point. Everything is read
# through customer_reports / customer_rollups: nothing from before the activation.

# Counts that choose the layers, in one statement over the hourly roll-ups (at most 24 rows a
# day) and capped counts of the raw reports. For each hour bucket, the points of a path split
# there: raw reports from it on (`reports_from` + the reports past the roll-ups) after the
# buckets before it and the cut first hour (`head`); or hourly buckets from it on
# (`hours_from` + the cut last hour) after a point per day before it (`days_before`, and the
# cut first hour's when its day has no bucket) and one for the part of its own day before it
# (`cuts_day`). The earliest split within the budget wins; for the raw one, the bucket
# before it (`raw_before`, `raw_before_reports`) lends its newest reports to fill the budget
# exactly. Parameters are positional, in the order of the text (the querysets' SQL brings
# its own): hours, tail, head, budget, start's day, budget.
_TRACK_PLAN = """
WITH hours AS (
    SELECT bucket, report_count FROM ({hours}) h
), tail AS (
    SELECT count(*) AS n, least(count(*), 1) AS point FROM ({tail}) t
), head AS (
    SELECT count(*) AS point FROM ({head}) t
), split AS (
    SELECT bucket, report_count,
           sum(report_count) OVER newer AS reports_from,
           count(*) OVER newer AS hours_from,
           count(*) OVER (ORDER BY bucket) - 1 AS hours_before,
           lag(bucket) OVER (ORDER BY bucket) AS bucket_before,
           lag(report_count) OVER (ORDER BY bucket) AS reports_before,
           dense_rank() OVER (ORDER BY date_trunc('day', bucket, 'UTC')) - 1 AS days_before,
           (row_number() OVER (PARTITION BY date_trunc('day', bucket, 'UTC') ORDER BY bucket)
            > 1)::int AS cuts_day,
           date_trunc('day', bucket, 'UTC') AS day
    FROM hours
    WINDOW newer AS (ORDER BY bucket DESC)
), raw_split AS (
    SELECT bucket, bucket_before, reports_before,
           reports_from + (SELECT n FROM tail) + hours_before + (SELECT point FROM head) AS points
    FROM split
    WHERE reports_from + (SELECT n FROM tail) + hours_before + (SELECT point FROM head) <= %s
    ORDER BY bucket LIMIT 1
)
SELECT (SELECT count(*) FROM hours) + (SELECT point FROM tail) + (SELECT point FROM head),
       (SELECT bucket FROM raw_split),
       (SELECT points FROM raw_split),
       (SELECT bucket_before FROM raw_split),
       (SELECT reports_before FROM raw_split),
       (SELECT min(bucket) FROM split
        WHERE days_before + cuts_day + hours_from + (SELECT point FROM tail)
              + (SELECT point FROM head)
                * (NOT EXISTS (SELECT 1 FROM split s WHERE s.day = %s))::int
              <= %s)
"""

_RAW_POINTS = (
    "SELECT ST_X(point::geometry), ST_Y(point::geometry), observed_at, 1, horizontal_accuracy"
    " FROM ({}) p"
)
_AVERAGED_POINT = (
    "SELECT avg(ST_X(point::geometry)), avg(ST_Y(point::geometry)), min(observed_at),"
    " count(*), min(horizontal_accuracy) FROM ({}) p HAVING count(*) > 0"
)
_ROLLUP_POINTS = (
    "SELECT ST_X(centroid::geometry), ST_Y(centroid::geometry), first_observed_at,"
    " report_count, best_accuracy_m FROM ({}) p"
)
_BUCKET = {"hourly": timedelta(hours=1), "daily": timedelta(days=1)}


def _floor(at: datetime, resolution: str) -> datetime:
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if resolution == "daily" else at


def _ceil(at: datetime, resolution: str) -> datetime:
    floor = _floor(at, resolution)
    return floor if floor == at else floor + _BUCKET[resolution]


def _compiled(queryset: QuerySet) -> tuple[str, tuple]:
    return queryset.query.sql_with_params()


class _TrackQuery:
    """The pieces of one path as SQL: raw reports, averaged pieces and roll-up buckets."""

    def __init__(self, *, user, tracker: Tracker, start: datetime, end: datetime):
        self.user, self.tracker, self.start, self.end = user, tracker, start, end
        self.parts: list[tuple[str, tuple]] = []

    def reports(self, lo: datetime, hi: datetime | None = None) -> QuerySet:
        """Reports from lo up to hi (excluded), or to the range's end (included)."""
        reports = customer_reports(user=self.user, tracker=self.tracker).filter(
            observed_at__gte=lo, observed_at__lte=self.end
        )
        if hi is not None:
            reports = reports.filter(observed_at__lt=hi)
        return reports.order_by().values("point", "observed_at", "horizontal_accuracy")

    def buckets(self, resolution: str, lo: datetime, hi: datetime) -> QuerySet:
        return (
            customer_rollups(user=self.user, resolution=resolution, tracker=self.tracker)
            .filter(bucket__gte=lo, bucket__lt=hi)
            .order_by()
            .values("centroid", "first_observed_at", "report_count", "best_accuracy_m")
        )

    def add(self, template: str, queryset: QuerySet) -> None:
        sql, params = _compiled(queryset)
        self.parts.append((template.format(sql), params))

    def add_layer(self, resolution: str, lo: datetime, hi: datetime | None = None) -> None:
        """[lo, hi) in `resolution` (hi None: to the range's end, included): its whole
        buckets from the roll-ups, the buckets cut at either end averaged from the reports."""
        first, last = _ceil(lo, resolution), _floor(hi or self.end, resolution)
        if first >= last:  # no whole bucket: one averaged point
            self.add(_AVERAGED_POINT, self.reports(lo, hi))
            return
        if lo < first:
            self.add(_AVERAGED_POINT, self.reports(lo, first))
        self.add(_ROLLUP_POINTS, self.buckets(resolution, first, last))
        if hi is None or last < hi:
            self.add(_AVERAGED_POINT, self.reports(last, hi))

    def points(self) -> list[TrackPoint]:
        sql = " UNION ALL ".join(f"({part})" for part, _ in self.parts) + " ORDER BY 3"
        params = tuple(p for _, part_params in self.parts for p in part_params)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(map(TrackPoint._make, cursor.fetchall()))


def _track(
    *, user, tracker: Tracker, start: datetime, end: datetime
) -> tuple[str, datetime | None, list[TrackPoint]]:
    """The path over [start, end]: (coarsest layer, where it turns finer, points): one query
    while every report fits the budget, else three (the reports, the plan, the points)."""
    if tracker.activated_at is not None:
        start = max(start, tracker.activated_at)
    if tracker.activated_at is None or start > end:
        return "reports", None, []
    budget = settings.GEOFENCING_HISTORY_POINT_BUDGET
    query = _TrackQuery(user=user, tracker=tracker, start=start, end=end)
    # Every report, if they fit: one query, and the common case. Only a range with more
    # reports than the budget reads a row past it, and then plans its layers.
    query.add(_RAW_POINTS, query.reports(start)[: budget + 1])
    points = query.points()
    if len(points) <= budget:
        return "reports", None, points
    query.parts.clear()
    first_hour, last_hour = _ceil(start, "hourly"), _floor(end, "hourly")
    hours_sql, hours_params = _compiled(
        query.buckets("hourly", first_hour, last_hour).values("bucket", "report_count")
    )
    tail_sql, tail_params = _compiled(query.reports(last_hour)[: budget + 1])
    head_sql, head_params = _compiled(query.reports(start, first_hour)[:1])
    plan = _TRACK_PLAN.format(hours=hours_sql, tail=tail_sql, head=head_sql)
    params = (*hours_params, *tail_params, *head_params, budget, _floor(start, "daily"), budget)
    with connection.cursor() as cursor:
        cursor.execute(plan, params)
        hourly_points, raw_from, raw_points, lender, lender_reports, hourly_from = cursor.fetchone()

    if hourly_points <= budget:
        # Hourly buckets, then raw reports from the earliest hour the budget allows; the
        # bucket before that hour lends its newest reports to what is left of the budget.
        if raw_from is None:
            query.add_layer("hourly", start)
            return "hourly", None, query.points()
        lent = min(budget - raw_points, (lender_reports or 1) - 1)
        if lender is None or lent <= 0:
            query.add_layer("hourly", start, raw_from)
        else:
            query.add_layer("hourly", start, lender)
            newest_first = query.reports(lender, raw_from).order_by("-observed_at", "-id")
            query.add(_AVERAGED_POINT, newest_first[lent:])
            query.add(_RAW_POINTS, newest_first[:lent])
        query.add(_RAW_POINTS, query.reports(raw_from))
        return "hourly", raw_from, query.points()
    # Daily buckets, then hourly ones from the earliest hour the budget allows (the part of
    # its day before it averaged).
    if hourly_from is None:
        query.add_layer("daily", start)
        return "daily", None, query.points()
    day = _floor(hourly_from, "daily")
    if day > start:
        query.add_layer("daily", start, day)
    if max(day, start) < hourly_from:
        query.add(_AVERAGED_POINT, query.reports(max(day, start), hourly_from))
    query.add_layer("hourly", hourly_from)
    return "daily", hourly_from, query.points()


# The changes _changes_around reads, in one statement written out rather than composed: the
# page's costliest query to build as a queryset (two subqueries for where the range's state
# began, one for when its last state ended, two windows), for a handful of rows.
_CHANGES_AROUND_SQL = """
    WITH own AS (
        SELECT id, at FROM {history} WHERE tracker_id = %(tracker)s AND at >= %(activated)s
    )
    SELECT h.id, h.tracker_id, h.from_status, h.to_status, h.at, h.place_id, h.from_place_id,
           h.report_id, h.recorded_at,
           lead(h.at, 1, (SELECT at FROM own WHERE at > %(end)s ORDER BY at LIMIT 1))
               OVER w AS left_at,
           lag(p.name) OVER w AS from_place_name,
           p.client_id AS place_client_id, p.kind AS place_kind, p.name AS place_name,
           p.address AS place_address, p.radius_m AS place_radius_m,
           p.created_at AS place_created_at
    FROM {history} h LEFT JOIN {place} p ON p.id = h.place_id
    WHERE h.tracker_id = %(tracker)s
      AND h.at >= coalesce(
            (SELECT at FROM own WHERE at < %(start)s ORDER BY at DESC OFFSET 1 LIMIT 1),
            (SELECT at FROM own WHERE at < %(start)s ORDER BY at DESC LIMIT 1),
            greatest(%(start)s, %(activated)s))
      AND h.at <= %(end)s
    WINDOW w AS (ORDER BY h.at, h.id)
    ORDER BY h.at, h.id
"""
_PLACE_COLUMNS = ["client_id", "kind", "name", "address", "radius_m", "created_at"]


def _changes_around(*, tracker: Tracker, start: datetime, end: datetime) -> list[StatusHistory]:
    """The changes from the second-last one before `start` up to `end` (the last one before
    `start` is the state the range begins in; the one before it names the place that state
    left), with the same `left_at` and `from_place_name` as status_history_list gives over
    the whole history: the last one's `left_at` comes from the first change after `end`.
    Nothing from before the tracker's activation. `tracker` is one the user may see (read
    through the scoped helper): its changes are theirs from its activation on. Each change's
    place is read with it, without its shapes (they load if asked for)."""
    if tracker.activated_at is None:
        return []
    sql = _CHANGES_AROUND_SQL.format(
        history=StatusHistory._meta.db_table, place=Place._meta.db_table
    )
    params = {"tracker": tracker.pk, "activated": tracker.activated_at, "start": start,
              "end": end}  # fmt: skip
    changes = list(StatusHistory.objects.raw(sql, params))
    for change in changes:
        if change.place_id is not None:
            values = [change.place_id, *(getattr(change, f"place_{c}") for c in _PLACE_COLUMNS)]
            change.place = Place.from_db(connection.alias, ["id", *_PLACE_COLUMNS], values)
        else:
            change.place = None
    return changes


def tracker_history(*, user, tracker_id: int, start: datetime, end: datetime) -> TrackerHistory:
    """A tracker's path, status changes, place visits and timeline between start and end,
    from its activation on (customer_reports)."""
    # Without the key material: a customer's page never shows it (nor reads it).
    trackers = Tracker.objects.select_related("production_run__brand").defer(
        "advertisement_key", "hashed_advertisement_key", "private_key_encrypted"
    )
    tracker = get_visible_or_404(trackers, user, pk=tracker_id)
    resolution, finer_from, track = _track(user=user, tracker=tracker, start=start, end=end)
    changes = _changes_around(tracker=tracker, start=start, end=end)
    earlier = [c for c in changes if c.at < start]
    changes = changes[max(0, len(earlier) - 1) :]  # from the state the range begins in
    visits = [
        Visit(change.place, change.to_status, change.at, change.left_at)
        for change in changes
        if change.place is not None and (change.left_at is None or change.left_at >= start)
    ]
    timeline = [
        TimelineEntry(
            status=change.to_status,
            at=change.at,
            until=change.left_at,
            place_name=change.place.name if change.place else "",
            left_place_name=change.from_place_name or "",
            began_before_range=change.at < start,
        )
        for change in reversed(changes)  # newest first
        if change.left_at is None or change.left_at >= start
    ]
    places = []
    if tracker.production_run_id:
        places = list(place_list(user=user, production_run=tracker.production_run))
    return TrackerHistory(
        tracker=tracker,
        start=start,
        end=end,
        resolution=resolution,
        finer_from=finer_from,
        track=track,
        changes=[c for c in changes if c.at >= start],
        visits=visits,
        timeline=timeline,
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

"""Every read a user can make of tenancy and trackers, scoped to that user."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Value,
)
from django.db.models.functions import Now, Replace
from django.http import Http404
from django.utils import timezone

from .macs import SEPARATORS, normalize_mac
from .models import (
    AlertSubscription,
    ApiKey,
    Brand,
    Client,
    DailyRollup,
    HourlyRollup,
    Invitation,
    LocationReport,
    Membership,
    Notification,
    ProductionRun,
    Profile,
    ShareLink,
    Tracker,
    WebhookDelivery,
    WebhookEndpoint,
)


def get_visible_or_404(queryset: QuerySet, user, **lookup):
    """The one portal helper: another client's object answers 404, exactly like a missing one."""
    try:
        return queryset.visible_to(user).get(**lookup)
    except queryset.model.DoesNotExist:
        raise Http404(f"No {queryset.model._meta.verbose_name} matches the given query.") from None


def client_list(*, user) -> QuerySet[Client]:
    return Client.objects.visible_to(user).order_by("name")


def client_list_with_roles(*, user) -> list[Client]:
    """client_list, each client with `administered`: whether the user may change its data
    (staff, or one of its admins), in the same query."""
    administered = Client.objects.administered_by(user).filter(pk=OuterRef("pk"))
    return list(client_list(user=user).annotate(administered=Exists(administered)))


def brand_list(*, user) -> QuerySet[Brand]:
    return Brand.objects.visible_to(user).select_related("client").order_by("client__name", "name")


def production_run_list(*, user) -> QuerySet[ProductionRun]:
    return (
        ProductionRun.objects.visible_to(user)
        .select_related("brand__client")
        .order_by("-starts_at")
    )


def production_run_get(*, user, pk: int) -> ProductionRun:
    return get_visible_or_404(ProductionRun.objects.select_related("brand__client"), user, pk=pk)


def tracker_list(*, user, production_run: ProductionRun | None = None) -> QuerySet[Tracker]:
    trackers = Tracker.objects.visible_to(user).select_related("production_run")
    if production_run is not None:
        trackers = trackers.filter(production_run=production_run)
    return trackers.order_by("mac_address")


def tracker_get(*, user, pk: int) -> Tracker:
    return get_visible_or_404(Tracker.objects.all(), user, pk=pk)


# --- The fleet-wide tracker list (the page, its CSV export) -------------------------------

# Sort keys of the list: a whitelist, each a column; "-" before the key sorts descending.
TRACKER_SORTS = {
    "mac": "mac_address",
    "label": "label",
    "status": "status",
    "run": "production_run__name",
    "brand": "production_run__brand__name",
    "city": "nearest_city",
    "seen": "last_report_at",
}
# Last-seen ranges: reported within the age (or longer ago, or never).
TRACKER_SEEN = {
    "1h": ("Within 1 hour", timedelta(hours=1)),
    "24h": ("Within 24 hours", timedelta(hours=24)),
    "7d": ("Within 7 days", timedelta(days=7)),
    "older7d": ("More than 7 days ago", timedelta(days=7)),
    "never": ("Never", None),
}
_HEX = frozenset("0123456789ABCDEF")


@dataclass(frozen=True)
class TrackerFilters:
    """What the tracker list is narrowed and sorted by; every value already validated
    (brand and run are the user's own: they come from choices of brand_list and
    production_run_list)."""

    q: str = ""
    status: str = ""
    brand: int | None = None
    production_run: int | None = None
    city: str = ""
    seen: str = ""  # a key of TRACKER_SEEN, or ""
    seen_from: datetime | None = None
    seen_to: datetime | None = None  # exclusive
    sort: str = "mac"  # a key of TRACKER_SORTS, "-" before it for descending


def _tracker_search(q: str) -> Q:
    """A MAC in any spelling, whole or partial ("aa-bb", "AABB.CC", "bb:cc:d"), or a part
    of the label."""
    by_label = Q(label__icontains=q)
    mac = normalize_mac(q)
    if mac is not None:
        return Q(mac_address=mac) | by_label
    digits = SEPARATORS.sub("", q).upper()
    if len(digits) >= 2 and set(digits) <= _HEX:
        return Q(mac_digits__contains=digits) | by_label
    return by_label


def tracker_table(
    *, user, filters: TrackerFilters, now: datetime | None = None
) -> QuerySet[Tracker]:
    """The visible trackers, narrowed and sorted by `filters` (ties broken by id, so pages
    never repeat or skip a tracker), with their run and brand: the list page and its CSV
    export read this one queryset. It reads the trackers table alone, never reports."""
    now = now or timezone.now()
    trackers = Tracker.objects.visible_to(user)
    if filters.q:
        trackers = trackers.annotate(mac_digits=Replace("mac_address", Value(":"))).filter(
            _tracker_search(filters.q)
        )
    if filters.status:
        trackers = trackers.filter(status=filters.status)
    if filters.brand is not None:
        trackers = trackers.filter(production_run__brand_id=filters.brand)
    if filters.production_run is not None:
        trackers = trackers.filter(production_run_id=filters.production_run)
    if filters.city:
        trackers = trackers.filter(nearest_city__icontains=filters.city)
    if filters.seen == "never":
        trackers = trackers.filter(last_report_at__isnull=True)
    elif filters.seen == "older7d":
        trackers = trackers.filter(last_report_at__lt=now - TRACKER_SEEN["older7d"][1])
    elif filters.seen in TRACKER_SEEN:
        trackers = trackers.filter(last_report_at__gte=now - TRACKER_SEEN[filters.seen][1])
    if filters.seen_from is not None:
        trackers = trackers.filter(last_report_at__gte=filters.seen_from)
    if filters.seen_to is not None:
        trackers = trackers.filter(last_report_at__lt=filters.seen_to)
    key = filters.sort.removeprefix("-")
    if key not in TRACKER_SORTS:
        key = "mac"
    descending = filters.sort.startswith("-")
    if key == "mac":
        # Unique and NOT NULL: the order of its unique index, no tie-breaker, so a page is
        # read from the index instead of sorting every tracker.
        order = ["-mac_address" if descending else "mac_address"]
    else:
        # Never seen, no run: last either way.
        column = F(TRACKER_SORTS[key])
        first = column.desc(nulls_last=True) if descending else column.asc(nulls_last=True)
        order = [first, "-id" if descending else "id"]
    # No join to runs and brands unless sorted by them: joined here, they would be joined to
    # every visible tracker before the page is cut. Callers read the few runs on their own.
    return trackers.only(*TRACKER_ROW_FIELDS).order_by(*order)


# What a row of the list (and its export) shows: never a key, never the encrypted one.
TRACKER_ROW_FIELDS = (
    "id",
    "mac_address",
    "label",
    "client_id",
    "status",
    "status_changed_at",
    "last_report_at",
    "nearest_city",
    "nearest_country_code",
    "production_run_id",
)


def tracker_status_counts(*, user, production_runs=None) -> dict[int | None, dict[str, int]]:
    """Trackers in production (not retired) by run and status, in one aggregate query:
    {run id: {status: n, ...}}, every status present (0 when none)."""
    trackers = Tracker.objects.visible_to(user).exclude(lifecycle_state=Tracker.Lifecycle.RETIRED)
    if production_runs is not None:
        trackers = trackers.filter(production_run__in=production_runs)
    counts: dict[int | None, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(Tracker.Status.values, 0)
    )
    rows = (
        trackers.order_by()
        .values_list("production_run_id", "status")
        .annotate(n=Count("*"))
        .values_list("production_run_id", "status", "n")
    )
    for run_id, status, n in rows:
        counts[run_id][status] = n
    return counts


def run_tracker_counts(*, user, production_run: ProductionRun) -> tuple[dict[str, int], int]:
    """A run's trackers in production by status (every status present; retired ones left
    out, as in tracker_status_counts) and how many trackers it has in all, retired ones
    too (its table's length), in one aggregate query."""
    counts = dict.fromkeys(Tracker.Status.values, 0)
    total = 0
    retired = ExpressionWrapper(
        Q(lifecycle_state=Tracker.Lifecycle.RETIRED), output_field=BooleanField()
    )
    rows = (
        Tracker.objects.visible_to(user)
        .filter(production_run=production_run)
        .order_by()
        .annotate(retired=retired)
        .values_list("status", "retired")
        .annotate(n=Count("id"))
        .values_list("status", "retired", "n")
    )
    for status, is_retired, n in rows:
        total += n
        if not is_retired:
            counts[status] += n
    return counts, total


def has_tracker_positions(*, user) -> bool:
    """Whether tracker_position_list has a row: any visible tracker in production with a
    last position (the dashboard draws its map then)."""
    return (
        Tracker.objects.visible_to(user)
        .filter(lifecycle_state=Tracker.Lifecycle.ACTIVE, last_point__isnull=False)
        .exists()
    )


def tracker_position_list(*, user, production_run: ProductionRun | None = None) -> QuerySet:
    """The last position of every visible tracker in production that has one, as plain rows
    (id, mac_address, label, status, last_report_at, nearest_city, lon, lat) for the maps:
    no geometry object per row, so thousands of trackers cost one query and little Python."""
    trackers = Tracker.objects.visible_to(user).filter(
        lifecycle_state=Tracker.Lifecycle.ACTIVE, last_point__isnull=False
    )
    if production_run is not None:
        trackers = trackers.filter(production_run=production_run)
    return (
        trackers.annotate(**coordinates("last_point"))
        .values(
            "id", "mac_address", "label", "status", "last_report_at", "nearest_city", "lon", "lat"
        )  # fmt: skip
        .order_by("id")
    )


# The compact features of geojson.tracker_position_features, built by PostgreSQL: a map of
# 10,000 trackers is one JSON text, not 10,000 dictionaries for Python to build and dump.
_POSITION_FEATURES_SQL = """
    SELECT coalesce(json_agg(json_build_object(
        'type', 'Feature',
        'geometry', json_build_object('type', 'Point', 'coordinates',
                                      json_build_array(round(p.lon::numeric, 6),
                                                       round(p.lat::numeric, 6))),
        'properties', json_strip_nulls(json_build_object(
            'kind', 'tracker', 'id', p.id, 'mac', p.mac_address, 'status', p.status,
            'label', nullif(p.label, ''), 'last_report_at', p.last_report_at,
            'city', nullif(p.nearest_city, '')))
    ) ORDER BY p.id), '[]')::text
    FROM ({positions}) AS p
"""


def tracker_position_features_json(*, user, production_run: ProductionRun | None = None) -> str:
    """tracker_position_list as a JSON array of compact GeoJSON features, the same as
    geojson.tracker_position_features makes of it, in one query that answers one text."""
    positions, params = tracker_position_list(
        user=user, production_run=production_run
    ).query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(_POSITION_FEATURES_SQL.format(positions=positions), params)
        return cursor.fetchone()[0]


def silent_tracker_list(*, user, now: datetime | None = None) -> QuerySet[Tracker]:
    """Trackers in production that reported once and then nothing for longer than their
    client's `silent_after_hours`, the longest silent first; each with `silent_since`."""
    threshold = Func(
        F("client__silent_after_hours"),
        template="make_interval(hours => %(expressions)s)",
        output_field=DurationField(),
    )
    cutoff = ExpressionWrapper(
        (Value(now, output_field=DateTimeField()) if now else Now()) - threshold,
        output_field=DateTimeField(),
    )
    return (
        Tracker.objects.visible_to(user)
        .filter(lifecycle_state=Tracker.Lifecycle.ACTIVE, last_report_at__lt=cutoff)
        .select_related("production_run")
        .only("id", "mac_address", "label", "last_report_at", "client_id", "production_run__name")
        .order_by("last_report_at", "id")
    )


def membership_list(*, user) -> QuerySet[Membership]:
    """The user's own memberships (an API key has none: it acts for its client alone)."""
    if getattr(user, "api_key", None) is not None or not user.is_authenticated:
        return Membership.objects.none()
    return Membership.objects.filter(user=user).select_related("client").order_by("client__name")


def coordinates(field: str) -> dict:
    """Annotations `lon` and `lat` of a point field, as plain numbers (NULL when the point is):
    the database unpacks them faster than Python builds a geometry object per row."""
    return {
        "lon": Func(
            F(field), template="ST_X(%(expressions)s::geometry)", output_field=FloatField()
        ),
        "lat": Func(
            F(field), template="ST_Y(%(expressions)s::geometry)", output_field=FloatField()
        ),
    }


# --- What a customer may read of the reports ---------------------------------------------
# A tracker's reports are its customer's from its activation in its current production run
# (Tracker.activated_at) on: what it reported before (in the warehouse, in an earlier run) is
# never shown. Every surface a customer reads (the tracker page, the partner API, exports)
# takes reports and roll-ups from these two selectors, never from the models directly.


def customer_reports(*, user, tracker: Tracker | None = None) -> QuerySet[LocationReport]:
    """The reports `user` may read: of visible trackers, observed at or after the tracker's
    activation. With `tracker` (found visible by the caller), its reports alone, the
    activation applied as a constant; a tracker never activated has none."""
    reports = LocationReport.objects.visible_to(user)
    if tracker is None:
        return reports.filter(observed_at__gte=F("tracker__activated_at"))
    if tracker.activated_at is None:
        return reports.none()
    return reports.filter(tracker=tracker, observed_at__gte=tracker.activated_at)


def customer_rollups(*, user, resolution: str, tracker: Tracker | None = None) -> QuerySet:
    """The hourly or daily roll-ups `user` may read: buckets whose first report was observed
    at or after the tracker's activation (a bucket that began before it mixes in reports the
    customer may not see, so it is left out whole). With `tracker`, as customer_reports."""
    model = {"hourly": HourlyRollup, "daily": DailyRollup}[resolution]
    rollups = model.objects.visible_to(user)
    if tracker is None:
        return rollups.filter(first_observed_at__gte=F("tracker__activated_at"))
    if tracker.activated_at is None:
        return rollups.none()
    return rollups.filter(tracker=tracker, first_observed_at__gte=tracker.activated_at)


def tracker_report_rows(*, user, tracker: Tracker, start: datetime, end: datetime) -> QuerySet:
    """A tracker's reports in [start, end] as the customer may read them (customer_reports:
    nothing before its activation), oldest first, as plain rows (observed_at, lon, lat,
    horizontal_accuracy) for the downloads: iterate with `.iterator(chunk_size=...)`."""
    return (
        customer_reports(user=user, tracker=tracker)
        .filter(observed_at__range=(start, end))
        .annotate(**coordinates("point"))
        .order_by("observed_at", "id")
        .values_list("observed_at", "lon", "lat", "horizontal_accuracy")
    )


LOCATION_RESOLUTIONS = ("raw", "hourly", "daily")


def location_list(*, user, tracker: Tracker, start, end, resolution: str) -> QuerySet:
    """A tracker's positions in [start, end] that `user` may read (customer_reports): its raw
    reports, or its hourly or daily roll-ups. Each row has `at`, `until`, `lon`, `lat`,
    `accuracy_m` and `reports`. The tracker comes from tracker_get, so it is visible to the
    caller already."""
    if resolution == "raw":
        return (
            customer_reports(user=user, tracker=tracker)
            .filter(observed_at__range=(start, end))
            .annotate(
                at=F("observed_at"),
                until=F("observed_at"),
                accuracy_m=F("horizontal_accuracy"),
                reports=Value(1),
                **coordinates("point"),
            )
            .only("id", "observed_at", "horizontal_accuracy")
        )
    return (
        customer_rollups(user=user, resolution=resolution, tracker=tracker)
        .filter(bucket__range=(start, end))
        .annotate(
            at=F("first_observed_at"),
            until=F("last_observed_at"),
            accuracy_m=F("best_accuracy_m"),
            reports=F("report_count"),
            **coordinates("centroid"),
        )
        .only("id", "bucket", "first_observed_at", "last_observed_at")
    )


def api_key_list(*, user) -> QuerySet[ApiKey]:
    """The keys of the clients the user administers, newest first."""
    return (
        ApiKey.objects.administered_by(user)
        .select_related("client", "created_by")
        .order_by("revoked_at", "-created_at")
    )


def api_key_get(*, user, pk: int) -> ApiKey:
    try:
        return api_key_list(user=user).get(pk=pk)
    except ApiKey.DoesNotExist:
        raise Http404("No such API key.") from None


def administered_client_list(*, user) -> QuerySet[Client]:
    return Client.objects.administered_by(user).order_by("name")


def webhook_list(*, user) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.visible_to(user).order_by("created_at", "id")


def webhook_delivery_list(*, user, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.visible_to(user)
        .filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-created_at", "-id")
    )


def share_link_list(*, user) -> QuerySet[ShareLink]:
    """The links of the user's clients, newest first; a viewer sees them, an admin changes."""
    return ShareLink.objects.visible_to(user).select_related(
        "client", "tracker", "production_run", "expiry_run", "created_by"
    )


def share_link_get(*, user, pk: int) -> ShareLink:
    return get_visible_or_404(share_link_list(user=user), user, pk=pk)


def share_link_open(*, token_hash: str) -> ShareLink | None:
    """The link a visitor without an account opened, if it opens now (not revoked, not
    expired, and its tracker still the link's client's). The link is its own scope: it is
    found by the hash of its token, never by id."""
    link = (
        ShareLink.objects.active()
        .select_related("client", "tracker", "production_run__brand", "expiry_run")
        .filter(token_hash=token_hash)
        .first()
    )
    if link is None:
        return None
    if link.tracker_id is not None and link.tracker.client_id != link.client_id:
        return None  # the tracker went to another client since
    return link


def share_link_trackers(*, link: ShareLink) -> QuerySet[Tracker]:
    """What a link shows: its tracker, or its run's trackers, of the link's client only."""
    trackers = Tracker.objects.filter(client_id=link.client_id).select_related(
        "production_run__brand"
    )
    if link.tracker_id is not None:
        return trackers.filter(pk=link.tracker_id)
    return trackers.filter(production_run_id=link.production_run_id).order_by("label", "id")


# --- Customer alerts -----------------------------------------------------------------------


def notification_list(*, user) -> QuerySet[Notification]:
    """The person's own notifications, newest first (nobody sees another's, staff included)."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return (
        Notification.objects.filter(user=user)
        .listed()
        .select_related("event", "tracker")
        .order_by("-occurred_at", "-id")
    )


def alert_client_get(*, user, pk: int) -> Client:
    """A client whose alert rules the user may see: visible (404 otherwise)."""
    return get_visible_or_404(Client.objects.all(), user, pk=pk)


def alert_subscription_list(*, user) -> list[tuple[Membership, AlertSubscription | None]]:
    """Each of the user's memberships with their subscription to that client (None: none)."""
    memberships = list(membership_list(user=user))
    subscriptions = {
        s.client_id: s
        for s in AlertSubscription.objects.filter(user=user).prefetch_related("production_runs")
    }
    return [(m, subscriptions.get(m.client_id)) for m in memberships]


# --- Members and accounts ------------------------------------------------------------------


def profile_get(*, user) -> Profile | None:
    """The person's own profile, None before they first saved it."""
    return Profile.objects.filter(user=user).first()


def member_client_list(*, user) -> QuerySet[Client]:
    """The clients whose members the user sees: their own (staff: every client)."""
    return Client.objects.visible_to(user).order_by("name", "id")


def member_list(*, user, clients) -> QuerySet[Membership]:
    """The members of `clients` (each with its person), as the user may see them."""
    return (
        Membership.objects.visible_to(user)
        .filter(client__in=clients)
        .select_related("user")
        .order_by("client_id", "-role", "user__username")
    )


def membership_get(*, user, pk: int) -> Membership:
    """A membership of one of the user's clients (404 for another client's)."""
    return get_visible_or_404(Membership.objects.select_related("user", "client"), user, pk=pk)


def invitation_list(*, user, clients) -> QuerySet[Invitation]:
    """The open invitations of those of `clients` the user administers (viewers see none)."""
    return (
        Invitation.objects.administered_by(user)
        .open()
        .filter(client__in=clients)
        .select_related("invited_by")
        .order_by("client_id", "-created_at")
    )


def invitation_get(*, user, pk: int) -> Invitation:
    return get_visible_or_404(Invitation.objects.select_related("client"), user, pk=pk)


def invitation_by_token_hash(*, token_hash: str) -> Invitation | None:
    """The invitation a link's token belongs to, in any state (the link is its own scope:
    found by the token's hash, never by id)."""
    return (
        Invitation.objects.select_related("client", "invited_by")
        .filter(token_hash=token_hash)
        .first()
    )

"""Reads that span the apps: the operations dashboard that opens Django admin.

Staff see every client, so nothing here is scoped by user. Each block is one aggregate
query, so the page costs the same number of queries for ten trackers or a million.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from geofencing.models import StatusHistory
from tracking.models import ProductionRun, Tracker

RECENT_CHANGES = 10
OK_KIND = "ok"


@dataclass(frozen=True)
class AccountAlert:
    account: AppleAccount
    advice: str


@dataclass
class FetchSeries:
    """One chart's worth of fetch health: a label per bucket and a series per measure."""

    labels: list[str]
    requests_by_kind: dict[str, list[int]]  # "ok" or an error kind -> requests per bucket
    reports_new: list[int]
    heard_share: list[float | None]  # ids with reports / ids asked, in %; None: none asked

    def as_chart_data(self) -> dict:
        return {
            "labels": self.labels,
            "requests_by_kind": self.requests_by_kind,
            "reports_new": self.reports_new,
            "heard_share": self.heard_share,
        }


@dataclass
class Dashboard:
    now: datetime
    lifecycle_counts: dict[str, int]
    status_counts: dict[str, int]  # trackers in production (ACTIVE) by status
    active: int
    heard_24h: int
    queue: dict[str, int]
    accounts: list[AppleAccount]
    alerts: list[AccountAlert]
    fetch_24h: FetchSeries
    fetch_7d: FetchSeries
    changes_24h: dict[str, int]
    recent_changes: list[StatusHistory]
    runs_this_week: list[ProductionRun] = field(default_factory=list)
    week_start: datetime | None = None
    week_end: datetime | None = None

    @property
    def heard_share_24h(self) -> int | None:
        return round(100 * self.heard_24h / self.active) if self.active else None


def tracker_counts(now: datetime) -> tuple[dict, dict, int, int]:
    rows = (
        Tracker.objects.order_by()
        .values_list("lifecycle_state", "status")
        .annotate(
            n=Count("id"),
            heard=Count("id", filter=Q(last_report_at__gte=now - timedelta(hours=24))),
        )
    )
    lifecycle = dict.fromkeys(Tracker.Lifecycle.values, 0)
    status = dict.fromkeys(Tracker.Status.values, 0)
    active = heard = 0
    for state, tracker_status, n, heard_n in rows:
        lifecycle[state] += n
        if state == Tracker.Lifecycle.ACTIVE:
            status[tracker_status] += n
            active += n
            heard += heard_n
    return lifecycle, status, active, heard


def fetch_queue(now: datetime) -> dict[str, int]:
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
    return TrackerFetchState.objects.aggregate(
        due=Count("pk", filter=Q(next_due_at__lte=now) & free),
        leased=Count("pk", filter=Q(claimed_until__gt=now)),
        backing_off=Count("pk", filter=Q(backoff_factor__gt=1)),
        never=Count("pk", filter=Q(tracker__last_report_at__isnull=True)),
        silent_24h=Count("pk", filter=Q(tracker__last_report_at__lt=now - timedelta(hours=24))),
    )


# Why a NEEDS_LOGIN account could not log in again by itself (the kind its last error starts with).
_NEEDS_LOGIN_REASONS = {
    "second_factor_again": ", and Apple asks for a second-factor code before it logs in again.",
    "relogin_refused": ", and the re-login with the kept password was refused.",
}


def _alerts(accounts: list[AppleAccount]) -> list[AccountAlert]:
    alerts = []
    for account in accounts:
        if not account.is_enabled:
            continue
        if account.health == AppleAccount.Health.NEEDS_LOGIN:
            advice = "Apple refused its session" + _NEEDS_LOGIN_REASONS.get(
                account.last_error.split(":", 1)[0], "."
            )
            advice += (
                " Log it in again with “Log in an Apple account” (Apple accounts page) or "
                f"`manage.py findmy_account login {account.name} --username APPLE_ID`; "
                "a FindMy.py session JSON uploaded on its page works too."
            )
        elif account.health == AppleAccount.Health.BACKING_OFF:
            until = account.backoff_until
            advice = (
                "Apple or anisette answered with errors; fetching with this account waits"
                + (f" until {until:%Y-%m-%d %H:%M} UTC" if until else "")
                + ". Read its last error; clear the back-off once the cause is fixed."
            )
        else:
            continue
        alerts.append(AccountAlert(account, advice))
    return alerts


def _fetch_series(now: datetime) -> tuple[FetchSeries, FetchSeries]:
    """Both charts from one query: per hour and outcome over seven days; days are summed."""
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    first_hour = this_hour - timedelta(days=7) + timedelta(hours=1)
    rows = (
        FetchRun.objects.filter(started_at__gte=first_hour)
        .annotate(hour=TruncHour("started_at"))
        .order_by()
        .values_list("hour", "error_kind")
        .annotate(
            requests=Count("id"),
            new=Sum("reports_new"),
            asked=Sum("ids_requested"),
            answered=Sum("ids_with_reports"),
        )
    )
    hours = [first_hour + timedelta(hours=i) for i in range(7 * 24)]
    days = sorted({h.date() for h in hours})
    by_hour: dict[datetime, dict] = defaultdict(
        lambda: {"kinds": defaultdict(int), "new": 0, "asked": 0, "answered": 0}
    )
    kinds = {OK_KIND}
    for hour, error_kind, requests, new, asked, answered in rows:
        kind = error_kind or OK_KIND
        kinds.add(kind)
        bucket = by_hour[hour]
        bucket["kinds"][kind] += requests
        bucket["new"] += new or 0
        bucket["asked"] += asked or 0
        bucket["answered"] += answered or 0
    ordered_kinds = [OK_KIND, *sorted(kinds - {OK_KIND})]

    def series(groups: list[tuple[str, list[datetime]]]) -> FetchSeries:
        result = FetchSeries([], {kind: [] for kind in ordered_kinds}, [], [])
        for label, members in groups:
            buckets = [by_hour[h] for h in members if h in by_hour]
            result.labels.append(label)
            for kind in ordered_kinds:
                result.requests_by_kind[kind].append(sum(b["kinds"][kind] for b in buckets))
            result.reports_new.append(sum(b["new"] for b in buckets))
            asked = sum(b["asked"] for b in buckets)
            answered = sum(b["answered"] for b in buckets)
            result.heard_share.append(round(100 * answered / asked, 1) if asked else None)
        return result

    last_day = [(f"{h:%H}:00", [h]) for h in hours[-24:]]
    week = [(f"{d:%a %d}", [h for h in hours if h.date() == d]) for d in days]
    return series(last_day), series(week)


def operations_dashboard(*, now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    lifecycle, status, active, heard = tracker_counts(now)
    accounts = list(AppleAccount.objects.order_by("name"))
    fetch_24h, fetch_7d = _fetch_series(now)
    since = now - timedelta(hours=24)
    changes_24h = dict.fromkeys(Tracker.Status.values, 0)
    changes_24h.update(
        StatusHistory.objects.filter(at__gte=since)
        .order_by()
        .values_list("to_status")
        .annotate(n=Count("id"))
        .values_list("to_status", "n")
    )
    recent = list(
        StatusHistory.objects.filter(at__gte=since)
        .select_related("tracker", "place")
        .order_by("-at", "-id")[:RECENT_CHANGES]
    )
    week_start = (now - timedelta(days=now.weekday())).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    week_end = week_start + timedelta(days=7)
    runs = list(
        ProductionRun.objects.filter(
            Q(starts_at__gte=week_start, starts_at__lt=week_end)
            | Q(ends_at__gte=week_start, ends_at__lt=week_end)
        )
        .select_related("brand__client")
        .order_by("starts_at")
    )
    return Dashboard(
        now=now,
        lifecycle_counts=lifecycle,
        status_counts=status,
        active=active,
        heard_24h=heard,
        queue=fetch_queue(now),
        accounts=accounts,
        alerts=_alerts(accounts),
        fetch_24h=fetch_24h,
        fetch_7d=fetch_7d,
        changes_24h=changes_24h,
        recent_changes=recent,
        runs_this_week=runs,
        week_start=week_start,
        week_end=week_end,
    )

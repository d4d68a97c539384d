"""/metrics: the platform's state in Prometheus' text format, for a scraper holding the token.

Every value is read when scraped, from PostgreSQL (counters kept on the Apple accounts, the
fetch queue, trackers, the last day's fetch log) and Redis (job durations), in a fixed number
of aggregate queries. METRICS_TOKEN unset means the endpoint does not exist (404); a wrong or
missing token answers 401.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from django.conf import settings
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from findmy.models import AppleAccount, FetchRun
from tracking.jobs import job_durations

from .selectors import fetch_queue, tracker_counts

OK = "ok"


def _accounts() -> list:
    accounts = list(AppleAccount.objects.order_by("name"))
    requests = CounterMetricFamily(
        "trackersite_fetch_requests", "Requests sent to Apple, by account.", labels=["account"]
    )
    errors = CounterMetricFamily(
        "trackersite_fetch_errors", "Requests that failed, by account.", labels=["account"]
    )
    stored = CounterMetricFamily(
        "trackersite_reports_stored", "New location reports stored, by account.", labels=["account"]
    )
    health = GaugeMetricFamily(
        "trackersite_apple_account_health",
        "1 for the account's current health, 0 for the others.",
        labels=["account", "health"],
    )
    enabled = GaugeMetricFamily(
        "trackersite_apple_account_enabled", "1 when the account is used.", labels=["account"]
    )
    for account in accounts:
        requests.add_metric([account.name], account.requests_total)
        errors.add_metric([account.name], account.errors_total)
        stored.add_metric([account.name], account.reports_total)
        enabled.add_metric([account.name], int(account.is_enabled))
        for value in AppleAccount.Health.values:
            health.add_metric([account.name, value], int(account.health == value))
    return [requests, errors, stored, health, enabled]


def _fetch_last_day(now) -> list:
    outcomes = GaugeMetricFamily(
        "trackersite_fetch_requests_24h",
        "Requests of the last 24 hours by outcome: ok or the error kind.",
        labels=["outcome"],
    )
    rows = (
        FetchRun.objects.filter(started_at__gte=now - timedelta(hours=24))
        .order_by()
        .values_list("error_kind")
        .annotate(n=Count("id"))
    )
    for kind, n in rows:
        outcomes.add_metric([kind or OK], n)
    return [outcomes]


def _queue_and_trackers(now) -> list:
    queue = GaugeMetricFamily(
        "trackersite_fetch_queue",
        "Trackers in the fetch queue: due now, leased by a worker, backing off, never "
        "reported, silent for more than 24 hours.",
        labels=["state"],
    )
    for state, n in fetch_queue(now).items():
        queue.add_metric([state], n)
    lifecycle, status, _active, heard = tracker_counts(now)
    by_lifecycle = GaugeMetricFamily(
        "trackersite_trackers", "Trackers by lifecycle state.", labels=["lifecycle"]
    )
    for state, n in lifecycle.items():
        by_lifecycle.add_metric([state], n)
    by_status = GaugeMetricFamily(
        "trackersite_active_trackers", "ACTIVE trackers by status.", labels=["status"]
    )
    for value, n in status.items():
        by_status.add_metric([value], n)
    heard_24h = GaugeMetricFamily(
        "trackersite_active_trackers_heard_24h", "ACTIVE trackers with a report in 24 hours."
    )
    heard_24h.add_metric([], heard)
    return [queue, by_lifecycle, by_status, heard_24h]


def _jobs() -> list:
    runs = CounterMetricFamily("trackersite_job_runs", "Finished runs, by job.", labels=["job"])
    failures = CounterMetricFamily(
        "trackersite_job_failures", "Runs that raised, by job.", labels=["job"]
    )
    seconds = CounterMetricFamily(
        "trackersite_job_seconds", "Seconds spent, by job.", labels=["job"]
    )
    last = GaugeMetricFamily(
        "trackersite_job_last_seconds", "Duration of the last run, by job.", labels=["job"]
    )
    for job, values in sorted(job_durations().items()):
        runs.add_metric([job], values["runs"])
        failures.add_metric([job], values["failures"])
        seconds.add_metric([job], values["seconds"])
        last.add_metric([job], values["last_seconds"])
    return [runs, failures, seconds, last]


class _Snapshot:
    """A collector that reads everything once per scrape."""

    def collect(self):
        now = timezone.now()
        yield from _accounts()
        yield from _fetch_last_day(now)
        yield from _queue_and_trackers(now)
        yield from _jobs()


def _authorised(request: HttpRequest) -> bool:
    expected = f"Bearer {settings.METRICS_TOKEN}".encode()
    given = request.headers.get("Authorization", "").encode()
    return hmac.compare_digest(given, expected)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("metrics are off (METRICS_TOKEN is not set)")
    if not _authorised(request):
        response = HttpResponse("a valid bearer token is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

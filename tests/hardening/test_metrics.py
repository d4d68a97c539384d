"""/metrics: Prometheus text for a scraper with the token; the numbers are the database's."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from findmy.tasks import fetch_due
from geofencing.tasks import evaluate_statuses_task, rollup_task
from tests.factories import TrackerFactory
from tests.findmy.factories import AppleAccountFactory
from tracking.jobs import job_durations

TOKEN = "scrape-token-for-tests"


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_TOKEN = TOKEN

    def scrape() -> dict[tuple[str, tuple], float]:
        response = client.get(reverse("metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.content.decode())
            for sample in family.samples
        }

    return scrape


def test_metrics_do_not_exist_without_a_token_setting(client, db, settings):
    settings.METRICS_TOKEN = ""
    assert client.get(reverse("metrics")).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_need_the_token(client, db, settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get(reverse("metrics"), **extra)
    assert response.status_code == 401
    assert "trackersite_" not in response.content.decode()


def test_account_counters_and_health_are_the_accounts(db, scrape):
    AppleAccountFactory(name="ok@example.com", requests_total=12, errors_total=2, reports_total=90)
    AppleAccountFactory(name="parked@example.com", health=AppleAccount.Health.NEEDS_LOGIN)
    samples = scrape()
    assert samples[("trackersite_fetch_requests_total", (("account", "ok@example.com"),))] == 12
    assert samples[("trackersite_fetch_errors_total", (("account", "ok@example.com"),))] == 2
    assert samples[("trackersite_reports_stored_total", (("account", "ok@example.com"),))] == 90
    health = "trackersite_apple_account_health"
    assert samples[(health, (("account", "parked@example.com"), ("health", "NEEDS_LOGIN")))] == 1
    assert samples[(health, (("account", "parked@example.com"), ("health", "OK")))] == 0
    assert samples[(health, (("account", "ok@example.com"), ("health", "OK")))] == 1


def test_queue_trackers_and_errors_by_kind_are_counted(world, scrape):
    now = timezone.now()
    trackers = [TrackerFactory(production_run=world.run_a) for _ in range(3)]
    for i, tracker in enumerate(trackers):
        TrackerFetchState.objects.create(
            tracker=tracker,
            next_due_at=now - timedelta(minutes=1) if i < 2 else now + timedelta(hours=1),
            claimed_until=now + timedelta(minutes=5) if i == 1 else None,
            backoff_factor=4 if i == 2 else 1,
        )
    account = AppleAccountFactory()
    for kind in ("", "", "needs_login", "backoff"):
        FetchRun.objects.create(account=account, started_at=now, error_kind=kind)
    samples = scrape()
    queue = {
        labels[0][1]: value
        for (name, labels), value in samples.items()
        if name == "trackersite_fetch_queue"
    }
    assert queue["due"] == 1 and queue["leased"] == 1 and queue["backing_off"] == 1
    outcomes = {
        labels[0][1]: value
        for (name, labels), value in samples.items()
        if name == "trackersite_fetch_requests_24h"
    }
    assert outcomes == {"ok": 2, "needs_login": 1, "backoff": 1}
    lifecycle = trackers[0].lifecycle_state
    assert samples[("trackersite_trackers", (("lifecycle", lifecycle),))] == 2 + 3  # + world's


def test_job_durations_come_from_the_tasks_that_ran(world, scrape):
    before = job_durations()
    evaluate_statuses_task.apply()
    rollup_task.apply()
    fetch_due.apply()
    samples = scrape()
    for job in ("status_engine", "rollup", "fetch_round"):
        runs = samples[("trackersite_job_runs_total", (("job", job),))]
        assert runs >= before.get(job, {}).get("runs", 0) + 1
        assert samples[("trackersite_job_last_seconds", (("job", job),))] > 0

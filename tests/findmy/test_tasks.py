"""fetch_due through a real Celery worker (own Redis database and queue), and the schedules."""

import os
import time

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from findmy.models import FetchRun
from tests.workers import send_task, start_worker, stop_worker
from trackersite.schedules import SCHEDULES
from tracking.models import LocationReport


@pytest.mark.celery
def test_fetch_due_runs_through_a_real_worker(simulator, account, make_trackers):
    trackers = make_trackers(2)
    queue_name = f"findmy-test-{os.getpid()}"
    worker = start_worker(
        queue_name,
        FINDMY_FETCH_URL=simulator.base_url + "/findmyservice/v2/fetch",
        ANISETTE_URL=simulator.base_url + "/",
    )
    try:
        send_task("findmy.tasks.fetch_due", queue_name)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not FetchRun.objects.exists():
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.3)
        run = FetchRun.objects.get()
        assert (run.error_kind, run.ids_requested) == ("", 2)
        assert set(LocationReport.objects.values_list("tracker", flat=True)) == {
            t.pk for t in trackers
        }
    finally:
        stop_worker(worker)


def test_install_schedules_creates_fetch_due_once_and_keeps_staff_changes(db):
    call_command("install_schedules")
    task = PeriodicTask.objects.get(task="findmy.tasks.fetch_due")
    assert (task.interval.every, task.interval.period) == (60, IntervalSchedule.SECONDS)
    assert task.enabled
    assert PeriodicTask.objects.filter(name__in=[s.name for s in SCHEDULES]).count() == len(
        SCHEDULES
    )

    # Staff slow it down and switch it off in admin; installing again changes nothing.
    task.interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task.enabled = False
    task.save()
    call_command("install_schedules")
    task.refresh_from_db()
    assert (task.interval.every, task.interval.period, task.enabled) == (5, "minutes", False)
    assert PeriodicTask.objects.filter(task="findmy.tasks.fetch_due").count() == 1

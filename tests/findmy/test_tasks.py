"""fetch_due through a real Celery worker (own Redis database and queue), and the schedules."""

import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from findmy.models import FetchRun
from trackersite.celery import app as celery_app
from trackersite.schedules import SCHEDULES
from tracking.models import LocationReport

from .conftest import ROOT


def _own_broker_url() -> str:
    """The Redis server of REDIS_URL, in the database numbered after REDIS_URL's own (of the
    16 Redis has by default): the worker's queue stays out of the database the project uses,
    wherever REDIS_URL points."""
    url = urlsplit(settings.REDIS_URL)
    database = int(url.path.strip("/") or 0)
    return urlunsplit(url._replace(path=f"/{(database + 1) % 16}"))


@pytest.mark.celery
def test_fetch_due_runs_through_a_real_worker(simulator, account, make_trackers):
    trackers = make_trackers(2)
    queue_name = f"findmy-test-{os.getpid()}"
    broker = _own_broker_url()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "trackersite.settings.test",
        "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": broker,
        "FINDMY_FETCH_URL": simulator.base_url + "/findmyservice/v2/fetch",
        "ANISETTE_URL": simulator.base_url + "/",
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "trackersite",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue_name,
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        with celery_app.connection_for_write(broker) as conn:
            celery_app.send_task("findmy.tasks.fetch_due", connection=conn, queue=queue_name)
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
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


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

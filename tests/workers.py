"""Real Celery workers for the tests about Celery: each on its own queue, on the Redis server
of REDIS_URL in the database numbered after REDIS_URL's own (of the 16 Redis has by default),
so the worker's queue stays out of the database the project uses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from trackersite.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


def own_broker_url() -> str:
    url = urlsplit(settings.REDIS_URL)
    database = int(url.path.strip("/") or 0)
    return urlunsplit(url._replace(path=f"/{(database + 1) % 16}"))


def start_worker(queue: str, **env_overrides: str) -> subprocess.Popen:
    """A solo worker on `queue`, against the test database and own_broker_url()."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "trackersite.settings.test",
        "DATABASE_URL": f"postgis://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "REDIS_URL": own_broker_url(),
        **env_overrides,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "trackersite", "worker", "--pool=solo",
         "--concurrency=1", "-Q", queue, "--without-heartbeat", "--without-gossip",
         "--without-mingle", "--loglevel=INFO"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def send_task(name: str, queue: str) -> None:
    with celery_app.connection_for_write(own_broker_url()) as conn:
        celery_app.send_task(name, connection=conn, queue=queue)

"""Every Celery task retries transient errors with back-off and runs under time limits (the
postgres-gone drill shows a real worker retrying)."""

import psycopg
from django.db import OperationalError

from trackersite.celery import TRANSIENT_ERRORS, ResilientTask, app


def test_every_task_of_ours_is_a_resilient_task_with_autoretry():
    app.loader.import_default_modules()
    ours = {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}
    assert {"findmy.tasks.fetch_due", "geofencing.tasks.rollup"} <= set(ours)
    for name, task in ours.items():
        assert isinstance(task, ResilientTask), name
        assert hasattr(task, "_orig_run"), f"{name} has no retry wrapper"
        assert task.retry_backoff and task.max_retries == 8
    assert {OperationalError, psycopg.OperationalError} <= set(TRANSIENT_ERRORS)


def test_tasks_have_soft_and_hard_time_limits():
    assert 0 < app.conf.task_soft_time_limit < app.conf.task_time_limit

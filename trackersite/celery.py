"""The Celery app: Redis as broker, django-celery-beat's DatabaseScheduler for schedules.

Every task of every app is a `ResilientTask` (the app's task class, so `shared_task` in the apps
gets it without importing this module): a database or broker that is gone for a moment makes
the task retry with exponential back-off instead of dropping the work. Time limits come from
CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT.
"""

import os

import kombu.exceptions
import psycopg
import redis.exceptions
from celery import Celery, Task
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

# Errors of the infrastructure, not of the work: retrying later helps. Ingestion writes through
# the raw psycopg connection, whose errors Django does not wrap.
TRANSIENT_ERRORS = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class ResilientTask(Task):
    """Retry transient errors after 2, 4, 8, ... seconds (with jitter, at most 5 minutes),
    up to 8 times; tasks are idempotent, so running one again is safe."""

    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8


app = Celery("trackersite", task_cls=ResilientTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

"""The Celery app: Redis as broker, django-celery-beat's DatabaseScheduler for schedules."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

app = Celery("trackersite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

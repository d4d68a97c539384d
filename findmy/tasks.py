"""Celery tasks of the findmy app: thin wrappers around services."""

from celery import shared_task

from tracking.jobs import timed_job

from . import services


@shared_task(name="findmy.tasks.fetch_due", ignore_result=True)
def fetch_due(max_requests: int | None = None) -> dict:
    """One fetch round (beat runs it every minute). Safe to run twice at once: claims are
    leased per tracker and per account."""
    with timed_job("fetch_round"):
        summary = services.fetch_due(max_requests=max_requests)
    return {
        "requests": summary.requests,
        "errors": summary.errors,
        "reports_new": summary.reports_new,
        "stopped_because": summary.stopped_because,
    }

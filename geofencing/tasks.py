"""Celery tasks of geofencing: thin wrappers around services, safe to run twice."""

from celery import shared_task

from tracking.jobs import timed_job

from . import services


@shared_task(name="geofencing.tasks.evaluate_statuses", ignore_result=True)
def evaluate_statuses_task(tracker_ids: list[int] | None = None) -> dict:
    """Move tracker statuses over the reports that arrived since the last evaluation."""
    with timed_job("status_engine"):
        result = services.evaluate_statuses(tracker_ids=tracker_ids)
    return {"reports": result.reports, "walked": result.walked, "changes": result.transitions}


@shared_task(name="geofencing.tasks.rollup", ignore_result=True)
def rollup_task() -> dict:
    """Fold new reports into the hourly and daily roll-ups."""
    with timed_job("rollup"):
        result = services.rollup_locations()
    return {
        "reports": result.reports,
        "hourly": result.hourly_buckets,
        "daily": result.daily_buckets,
    }


@shared_task(name="geofencing.tasks.label_cities", ignore_result=True)
def label_cities_task(tracker_ids: list[int] | None = None) -> dict:
    """Label trackers whose position moved with their nearest city."""
    return {"changed": services.label_nearest_cities(tracker_ids=tracker_ids)}

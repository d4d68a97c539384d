"""Periodic tasks, declared in code and installed with `manage.py install_schedules`.

Installing creates what is missing and never changes or deletes a row staff have edited in
admin (django-celery-beat's Periodic tasks). Append new entries to SCHEDULES.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    name: str  # unique; the PeriodicTask is found again by this name
    task: str  # the Celery task name
    every_seconds: int
    description: str = ""


SCHEDULES: list[Schedule] = [
    Schedule(
        name="findmy: fetch due trackers",
        task="findmy.tasks.fetch_due",
        every_seconds=60,
        description="Ask Apple for reports of due trackers in live production runs.",
    ),
    Schedule(
        name="geofencing: evaluate statuses",
        task="geofencing.tasks.evaluate_statuses",
        every_seconds=120,
        description="Move tracker statuses over new reports and record every change.",
    ),
    Schedule(
        name="geofencing: roll-ups",
        task="geofencing.tasks.rollup",
        every_seconds=300,
        description="Fold new reports into the hourly and daily roll-ups.",
    ),
    Schedule(
        name="geofencing: nearest city labels",
        task="geofencing.tasks.label_cities",
        every_seconds=600,
        description="Label trackers whose position moved with their nearest city.",
    ),
    Schedule(
        name="webhooks: deliver events",
        task="tracking.tasks.deliver_webhooks",
        every_seconds=60,
        description="Send new events to webhook endpoints and retry failed deliveries.",
    ),
    Schedule(
        name="events: silent trackers",
        task="tracking.tasks.record_silent_trackers",
        every_seconds=600,
        description="Announce trackers silent longer than their client's threshold.",
    ),
    Schedule(
        name="alerts: notify",
        task="tracking.tasks.notify_alerts",
        every_seconds=60,
        description="Turn new events into customer notifications and e-mail them.",
    ),
    Schedule(
        name="alerts: daily digests",
        task="tracking.tasks.send_alert_digests",
        every_seconds=3600,
        description="E-mail the digests of the people whose local digest hour it is.",
    ),
    Schedule(
        name="alerts: operations checks",
        task="trackersite.tasks.check_operations",
        every_seconds=300,
        description="Alert staff: Apple logins needed, fetching failing, runs ending tomorrow.",
    ),
]

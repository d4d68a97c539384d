"""Celery tasks of tracking: thin wrappers around services, safe to run twice."""

from celery import shared_task

from . import alert_emails, alerts, services, webhooks

# A delivery round that finds the next retry due within this many seconds queues itself
# again for then; later retries are left to the beat schedule (every minute).
REQUEUE_WITHIN_SECONDS = 60.0


@shared_task(name="tracking.tasks.deliver_webhooks", bind=True, ignore_result=True)
def deliver_webhooks_task(self) -> dict:
    """Send the event outbox to webhook endpoints (fan-out, then due deliveries)."""
    result = webhooks.deliver_due()
    if result.next_due_in is not None and result.next_due_in <= REQUEUE_WITHIN_SECONDS:
        queue = (self.request.delivery_info or {}).get("routing_key")
        self.apply_async(countdown=result.next_due_in, queue=queue)
    return {"events": result.events, "sent": result.sent, "delivered": result.delivered}


@shared_task(name="tracking.tasks.record_silent_trackers", ignore_result=True)
def record_silent_trackers_task() -> dict:
    """Write a tracker.silent event for each tracker that stopped reporting."""
    return {"events": services.events_record_silent()}


@shared_task(name="tracking.tasks.notify_alerts", ignore_result=True)
def notify_alerts_task() -> dict:
    """Turn new events into customer notifications, then e-mail the immediate ones."""
    events = notifications = 0
    while True:
        result = alerts.notifications_fan_out()
        events += result.events
        notifications += result.notifications
        if not result.events:
            break
    sent = alert_emails.emails_send_due()
    return {"events": events, "notifications": notifications, "emails": sent.emails}


@shared_task(name="tracking.tasks.send_alert_digests", ignore_result=True)
def send_alert_digests_task() -> dict:
    """E-mail the daily digests of the people whose digest hour it is."""
    return {"emails": alert_emails.digests_send()}

"""Celery tasks that span the apps: thin wrappers around services, safe to run twice."""

from celery import shared_task

from tracking import alert_emails

from .operations_alerts import operations_alerts_check


@shared_task(name="trackersite.tasks.check_operations", ignore_result=True)
def check_operations_task() -> dict:
    """Alert staff to problems (Apple logins, failing fetches, runs ending), then e-mail."""
    written = operations_alerts_check()
    sent = alert_emails.emails_send_due() if written else None
    return {"notifications": written, "emails": sent.emails if sent else 0}

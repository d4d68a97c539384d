"""Operations alerts for staff: problems someone must act on, checked by beat every 5 minutes
(trackersite may read every app). Each problem alerts once per occurrence (its key), through
the same notifications and e-mails as the customers' alerts.

* an Apple account needs a login (health NEEDS_LOGIN): fetching through it has stopped;
* fetching has failed for ALERTS_FETCH_FAILING_MINUTES: every FetchRun since the last one
  without an error has failed, the first of them that long ago, and the newest failed too;
* a production run ends tomorrow (the site's timezone): its trackers stop being fetched.

Recipients: active staff in the operations group, and superusers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from findmy.models import AppleAccount, FetchRun
from tracking import alerts
from tracking.models import ProductionRun

from .services import OPERATIONS


def operations_recipients():
    return (
        get_user_model()
        .objects.filter(
            Q(groups__name=OPERATIONS) | Q(is_superuser=True), is_active=True, is_staff=True
        )
        .distinct()
    )


def _record(recipients, **alert) -> int:
    return alerts.staff_alert_record(recipients=recipients, **alert)


def operations_alerts_check(*, now: datetime | None = None) -> int:
    """Record an alert for each problem found. Returns the notifications written."""
    now = now or timezone.now()
    recipients = list(operations_recipients())
    if not recipients:
        return 0
    written = 0
    for account in AppleAccount.objects.filter(
        is_enabled=True, health=AppleAccount.Health.NEEDS_LOGIN
    ):
        since = account.last_error_at or account.updated_at
        written += _record(
            recipients,
            kind="ops.apple_needs_login",
            key=f"ops.apple_needs_login:{account.pk}:{since.isoformat()}",
            title=f"Apple account “{account.name}” needs a login",
            link=reverse("admin:findmy_appleaccount_change", args=[account.pk]),
            occurred_at=since,
        )

    failing_for = timedelta(minutes=settings.ALERTS_FETCH_FAILING_MINUTES)
    last_ok = FetchRun.objects.filter(error_kind="").order_by("-started_at").first()
    failed = FetchRun.objects.exclude(error_kind="")
    if last_ok is not None:
        failed = failed.filter(started_at__gt=last_ok.started_at)
    first_failed = failed.order_by("started_at").first()
    newest = FetchRun.objects.order_by("-started_at").first()
    if (
        first_failed is not None
        and first_failed.started_at <= now - failing_for
        and newest is not None
        and newest.error_kind
    ):
        minutes = int((now - first_failed.started_at).total_seconds() // 60)
        written += _record(
            recipients,
            kind="ops.fetch_failing",
            key=f"ops.fetch_failing:{first_failed.pk}",
            title=f"Fetching has failed for {minutes} minutes ({newest.error_kind})",
            link=reverse("admin:findmy_fetchrun_changelist"),
            occurred_at=first_failed.started_at,
        )

    today = timezone.localdate(now)
    tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time())
    tomorrow = timezone.make_aware(tomorrow)
    for run in ProductionRun.objects.filter(
        ends_at__gte=tomorrow, ends_at__lt=tomorrow + timedelta(days=1)
    ).select_related("brand__client"):
        written += _record(
            recipients,
            kind="ops.run_ending",
            key=f"ops.run_ending:{run.pk}:{run.ends_at.isoformat()}",
            title=f"Run “{run.name}” ({run.brand.client}) ends tomorrow",
            link=reverse("admin:tracking_productionrun_change", args=[run.pk]),
            occurred_at=now,
        )
    return written

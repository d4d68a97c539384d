"""E-mailing notifications: each person's pending immediate alerts as one message, and the
daily digests. Plain text and HTML, times in the recipient's timezone, links to the tracker
page (absolute, from SITE_URL).

Never twice, never lost silently:

1. Claim (committed): a person's pending notifications are attached to a new AlertEmail in
   state CLAIMED with a lease (ALERTS_EMAIL_LEASE_SECONDS); rows another worker holds are
   skipped (SKIP LOCKED).
2. Compose, then move the e-mail to SENDING (committed, only if the lease is still ours) just
   before handing it to the mail server, with a Message-ID made from the e-mail's id.
3. Send, then mark SENT.

A worker that dies between 1 and 2 leaves a CLAIMED e-mail that nobody handed over: when its
lease runs out it is RELEASED and its notifications are pending again (sent by the next run).
A worker that dies between 2 and the mark leaves a SENDING e-mail that may or may not have
reached the mail server: when its lease runs out it becomes UNCERTAIN and is NOT sent again.
A person may miss that one e-mail (the alerts stay in the portal's list, unread), but never
gets it twice; a resend would reuse the same Message-ID, which not every mail client
deduplicates. Staff see UNCERTAIN e-mails in admin. A mail server that refuses or cannot be
reached took nothing: that e-mail is RELEASED at once and its alerts go out with the next run.
"""

from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .events import event_payloads
from .models import AlertEmail, AlertSubscription, Notification

logger = logging.getLogger(__name__)

TITLES = {
    "tracker.arrived": "Arrived at {place}",
    "tracker.left": "Left {place}",
    "tracker.delivered": "Delivered at {place}",
    "tracker.moved_after_delivery": "Moved after delivery{from_place}",
    "tracker.silent": "Silent: no report for {silent_hours} h",
    "tracker.back": "Reporting again",
    "tracker.first_report": "First report",
    "tracker.status_changed": "{from_status} → {to_status}{at_place}",
}


def recipient_timezone(user) -> ZoneInfo:
    """The person's timezone (their profile's, when they set one), else the site's."""
    profile = getattr(user, "profile", None)  # a missing profile raises AttributeError
    name = getattr(profile, "timezone_name", "") or settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _status_label(value: str | None) -> str:
    return (value or "unknown").replace("_", " ").capitalize()


@dataclass(frozen=True)
class Item:
    """One notification as e-mails and the portal list show it."""

    notification: Notification
    title: str
    tracker_name: str  # label and MAC
    place: str
    occurred_at: datetime
    url: str  # a path; e-mails prefix SITE_URL


def describe(notifications: list[Notification]) -> list[Item]:
    """Items for notifications loaded with select_related("event", "tracker")."""
    payloads = event_payloads([n.event for n in notifications if n.event_id])
    items = []
    for n in notifications:
        if n.event_id is None:  # an operations alert
            items.append(Item(n, n.title, "", "", n.occurred_at, n.link))
            continue
        payload = payloads.get(n.event_id, {})
        place = (payload.get("place") or {}).get("name") or ""
        silent_hours = payload.get("silent_after_hours") or ""
        title = TITLES.get(n.kind, n.kind).format(
            place=place or "a place",
            from_place=f" from {place}" if place else "",
            at_place=f" ({place})" if place else "",
            silent_hours=silent_hours,
            from_status=_status_label(payload.get("from_status")),
            to_status=_status_label(payload.get("to_status")),
        )
        tracker = n.tracker
        if tracker is not None:
            name = (
                f"{tracker.label} ({tracker.mac_address})" if tracker.label else tracker.mac_address
            )
            url = reverse("portal:tracker-history", args=[tracker.pk])
        else:
            name, url = "", reverse("portal:notifications")
        items.append(Item(n, title, name, place, n.occurred_at, url))
    return items


def _message_id(email: AlertEmail) -> str:
    domain = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<alert-{email.id}@{domain}>"


def compose(email: AlertEmail, notifications: list[Notification]) -> EmailMultiAlternatives:
    """The message of one AlertEmail: the first ALERTS_EMAIL_MAX_LISTED alerts, then how many
    more; times in the recipient's timezone."""
    zone = recipient_timezone(email.user)
    items = describe(notifications)
    limit = settings.ALERTS_EMAIL_MAX_LISTED
    listed, more = items[:limit], max(0, len(items) - limit)
    if email.kind == AlertEmail.Kind.DIGEST:
        subject = f"Daily digest: {len(items)} alert{'s' if len(items) != 1 else ''}"
    elif len(items) == 1:
        item = items[0]
        subject = f"{item.title}: {item.tracker_name}" if item.tracker_name else item.title
    else:
        subject = f"{len(items)} alerts"
    rows = [
        {
            "title": item.title,
            "tracker": item.tracker_name,
            "place": item.place,
            "at": timezone.localtime(item.occurred_at, zone).strftime("%Y-%m-%d %H:%M %Z"),
            "url": settings.SITE_URL + item.url,
        }
        for item in listed
    ]
    context = {
        "subject": subject,
        "items": rows,
        "more": more,
        "timezone": str(zone),
        "notifications_url": settings.SITE_URL + reverse("portal:notifications"),
        "alerts_url": settings.SITE_URL + reverse("portal:alerts"),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("email/alerts.txt", context),
        to=[email.to_address],
        headers={"Message-ID": _message_id(email)},
    )
    message.attach_alternative(render_to_string("email/alerts.html", context), "text/html")
    return message


# --- Claim, send, mark --------------------------------------------------------------------


def _claim(pending: Q, *, kind: str, limit: int = 5000) -> list[AlertEmail]:
    """Attach pending notifications matching `pending` to one new e-mail per person, in a
    transaction of its own (committed before anything is sent)."""
    lease = timedelta(seconds=settings.ALERTS_EMAIL_LEASE_SECONDS)
    now = timezone.now()
    emails = []
    with transaction.atomic():
        rows = list(
            Notification.objects.filter(pending, state=Notification.State.PENDING)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("user__profile")
            .order_by("user_id", "occurred_at", "id")[:limit]
        )
        by_user = defaultdict(list)
        for n in rows:
            by_user[n.user].append(n.pk)
        for user, ids in by_user.items():
            if not user.email:
                Notification.objects.filter(pk__in=ids).update(state=Notification.State.NO_ADDRESS)
                continue
            email = AlertEmail.objects.create(
                user=user,
                kind=kind,
                to_address=user.email,
                lease_until=now + lease,
                notification_count=len(ids),
            )
            Notification.objects.filter(pk__in=ids).update(
                state=Notification.State.EMAILED, email=email
            )
            emails.append(email)
    return emails


def _send(email: AlertEmail) -> bool:
    """Compose, move to SENDING (only while the lease is ours), hand over, mark SENT."""
    notifications = list(
        email.notifications.select_related("event", "tracker").order_by("occurred_at", "id")
    )
    message = compose(email, notifications)
    with transaction.atomic():
        ours = AlertEmail.objects.filter(
            pk=email.pk, state=AlertEmail.State.CLAIMED, lease_until__gt=timezone.now()
        ).update(state=AlertEmail.State.SENDING)
    if not ours:
        return False
    try:
        message.send()
    except (smtplib.SMTPServerDisconnected, TimeoutError):
        raise  # cut off mid-conversation: maybe accepted; UNCERTAIN when the lease ends
    except (smtplib.SMTPException, OSError) as exc:
        # Refused or unreachable before the hand-over: nothing was sent, send it afresh.
        logger.warning("alert e-mail %s not accepted (%s); sent again later", email.pk, exc)
        _release([email.pk], now=timezone.now())
        return False
    email_mark_sent(email)
    return True


def _release(email_ids: list, *, now: datetime) -> None:
    """E-mails that never reached the mail server: their notifications are pending again."""
    with transaction.atomic():
        Notification.objects.filter(email_id__in=email_ids).update(
            state=Notification.State.PENDING, email=None
        )
        AlertEmail.objects.filter(pk__in=email_ids).update(state=AlertEmail.State.RELEASED)


def email_mark_sent(email: AlertEmail) -> None:
    AlertEmail.objects.filter(pk=email.pk, state=AlertEmail.State.SENDING).update(
        state=AlertEmail.State.SENT, sent_at=timezone.now()
    )


@transaction.atomic
def emails_expire_leases(*, now: datetime | None = None) -> tuple[int, int]:
    """E-mails whose worker is gone: CLAIMED ones are released (their notifications pending
    again), SENDING ones become UNCERTAIN and are not sent again. Returns (released,
    uncertain)."""
    now = now or timezone.now()
    expired = AlertEmail.objects.filter(lease_until__lte=now).select_for_update(skip_locked=True)
    claimed = list(expired.filter(state=AlertEmail.State.CLAIMED).values_list("pk", flat=True))
    _release(claimed, now=now)
    uncertain = AlertEmail.objects.filter(
        pk__in=expired.filter(state=AlertEmail.State.SENDING).values("pk")
    ).update(state=AlertEmail.State.UNCERTAIN)
    if uncertain:
        logger.warning("%s alert e-mail(s) may not have been sent (worker lost)", uncertain)
    return len(claimed), uncertain


@dataclass(frozen=True)
class SendRound:
    emails: int
    released: int
    uncertain: int


def emails_send_due() -> SendRound:
    """Send every person's pending immediate alerts, one e-mail each."""
    released, uncertain = emails_expire_leases()
    sent = 0
    for email in _claim(
        Q(delivery=AlertSubscription.Delivery.IMMEDIATE), kind=AlertEmail.Kind.IMMEDIATE
    ):
        sent += _send(email)
    return SendRound(sent, released, uncertain)


def digests_send(*, now: datetime | None = None) -> int:
    """Digests of the people whose digest hour it is now in their own timezone: every
    pending digest notification of that client, once. Returns the e-mails sent."""
    now = now or timezone.now()
    emails_expire_leases(now=now)
    due = Q(pk__in=[])
    subscriptions = AlertSubscription.objects.filter(
        delivery=AlertSubscription.Delivery.DIGEST
    ).select_related("user__profile")
    for subscription in subscriptions:
        local = timezone.localtime(now, recipient_timezone(subscription.user))
        if local.hour == subscription.digest_hour:
            due |= Q(user_id=subscription.user_id, client_id=subscription.client_id)
    sent = 0
    for email in _claim(due & Q(delivery=AlertSubscription.Delivery.DIGEST), kind="DIGEST"):
        sent += _send(email)
    return sent

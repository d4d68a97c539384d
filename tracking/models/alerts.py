"""Customer alerts: rules, subscriptions, notifications and the e-mails that carry them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .catalog import ProductionRun, Tracker
from .integrations import Event
from .tenancy import Client, TenantQuerySet

# --- Customer alerts ---------------------------------------------------------------------
# The outbox's events become per-person notifications (tracking/alerts.py): a client's admins
# choose which event types are on and for which runs (AlertRule), each member which runs they
# follow and how they hear of them (AlertSubscription). One Notification per (event, person);
# e-mails carry one or many of them (AlertEmail).


class AlertRule(models.Model):
    """A client's alerts: the event types that are on, for every run or for chosen runs.
    A client without a rule has every alert off."""

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="alert_rule")
    event_types = models.JSONField(default=list, blank=True)
    all_runs = models.BooleanField(default=True)
    production_runs = models.ManyToManyField(ProductionRun, blank=True, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    def __str__(self) -> str:
        return f"alerts of {self.client}"


class AlertSubscription(models.Model):
    """What one member follows of one client, and how: each alert at once, a daily digest at
    a local hour of their timezone, or nothing. A member without one gets nothing."""

    class Delivery(models.TextChoices):
        IMMEDIATE = "IMMEDIATE", "Immediately"
        DIGEST = "DIGEST", "Daily digest"
        OFF = "OFF", "Not at all"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_subscriptions"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    delivery = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.IMMEDIATE)
    digest_hour = models.PositiveSmallIntegerField(
        default=8,
        validators=[MaxValueValidator(23)],
        help_text="The hour of the day (your timezone) the digest is sent.",
    )
    all_runs = models.BooleanField(default=True)
    production_runs = models.ManyToManyField(ProductionRun, blank=True, related_name="+")

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="alert_subscription_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} follows {self.client} ({self.delivery})"


class AlertEmail(models.Model):
    """One e-mail of alerts to one person: the notifications that point at it. Its id makes
    the Message-ID. CLAIMED is composed but not handed to the mail server; SENDING was
    committed just before the hand-over; a SENDING row whose lease ran out may have gone out
    and is never sent again (UNCERTAIN); a CLAIMED one is released to be sent afresh."""

    class Kind(models.TextChoices):
        IMMEDIATE = "IMMEDIATE", "Immediate"
        DIGEST = "DIGEST", "Digest"

    class State(models.TextChoices):
        CLAIMED = "CLAIMED", "Claimed"
        SENDING = "SENDING", "Sending"
        SENT = "SENT", "Sent"
        UNCERTAIN = "UNCERTAIN", "Maybe sent (worker lost)"
        RELEASED = "RELEASED", "Released (never sent)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=State.choices, default=State.CLAIMED)
    to_address = models.EmailField()
    lease_until = models.DateTimeField()
    notification_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["lease_until"],
                condition=Q(state__in=["CLAIMED", "SENDING"]),
                name="alert_email_leased",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.to_address} ({self.state})"


class NotificationQuerySet(models.QuerySet):
    def listed(self) -> NotificationQuerySet:
        """What the person sees: everything but the alerts a flap debounced."""
        return self.exclude(state=Notification.State.DEBOUNCED)

    def unread(self) -> NotificationQuerySet:
        return self.listed().filter(read_at__isnull=True)


class Notification(models.Model):
    """One alert for one person: from an outbox event (unique per event and person, so a
    fan-out that runs twice adds nothing) or from the operations checks for staff (unique per
    person and `dedupe_key`). Shown in the portal's list; e-mailed at once or in a digest."""

    class State(models.TextChoices):
        PENDING = "PENDING", "Waiting for its e-mail"
        EMAILED = "EMAILED", "In an e-mail"
        DEBOUNCED = "DEBOUNCED", "Debounced (same alert shortly before)"
        NO_ADDRESS = "NO_ADDRESS", "Not e-mailed (no address)"

    # No database constraints on any link: the fan-out writes notifications set-based from
    # rows it has just read with their own constraints (events, subscriptions, users), and
    # PostgreSQL would check each notification's links one row at a time (a third of the
    # fan-out). Deleting a person, event, client or tracker through Django still deletes their
    # notifications (CASCADE).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    kind = models.CharField(max_length=40)  # the event type, or an operations check's name
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    tracker = models.ForeignKey(
        Tracker, null=True, blank=True, on_delete=models.CASCADE, related_name="+",
        db_index=False, db_constraint=False,
    )  # fmt: skip
    delivery = models.CharField(
        max_length=10,
        choices=AlertSubscription.Delivery.choices,
        default=AlertSubscription.Delivery.IMMEDIATE,
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    email = models.ForeignKey(
        AlertEmail, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications",
        db_index=False,
    )  # fmt: skip
    # Operations alerts only (no event): what to say and where it points.
    dedupe_key = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=300, blank=True)
    link = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "user"], name="notification_event_user_uniq"),
            models.UniqueConstraint(
                fields=["user", "dedupe_key"],
                condition=~Q(dedupe_key=""),
                name="notification_user_dedupe_uniq",
            ),
        ]
        indexes = [
            # The portal's list, newest first; the header's unread count (the newest, see
            # alerts.unread_count); the flap debounce's look back (a person's last minutes).
            # Each index costs every notification of a storm: there is no other.
            models.Index(fields=["user", "-occurred_at"], name="notification_user_list"),
            # The e-mail senders' queue.
            models.Index(
                fields=["user"], condition=Q(state="PENDING"), name="notification_pending"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id} @ {self.occurred_at:%Y-%m-%d %H:%M}"

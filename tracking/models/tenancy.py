"""The tenancy rule and the people: clients, memberships, profiles, invitations."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from ..timezones import timezone_names


class TenantQuerySet(models.QuerySet):
    """The one scoping rule: staff see everything, members their clients' rows, others nothing.

    Subclasses name the path from the row to its Client in `client_path`.
    """

    client_path = "client"

    def visible_to(self, user) -> TenantQuerySet:
        return self._of_members(user)

    def administered_by(self, user) -> TenantQuerySet:
        """Rows the user may change: staff, or members with the ADMIN role."""
        return self._of_members(user, role=Membership.Role.ADMIN)

    def _of_members(self, user, *, role: str | None = None) -> TenantQuerySet:
        """All rows for staff; for other active users the rows of the clients they are a
        member of (with `role`, if given); none for anonymous or inactive users."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        api_key = getattr(user, "api_key", None)
        if api_key is not None:  # an API key: one membership of its client, with its role
            if role is not None and api_key.role != role:
                return self.none()
            return self.filter(**{f"{self.client_path}__in": [api_key.client_id]})
        if user.is_staff:
            return self
        # The user's clients as one literal subquery: the same SQL a Membership queryset
        # would compile to, without compiling a nested query into every scoped query.
        sql = f"SELECT client_id FROM {Membership._meta.db_table} WHERE user_id = %s"
        params: tuple = (user.pk,)
        if role is not None:
            sql += " AND role = %s"
            params += (role,)
        return self.filter(**{f"{self.client_path}__in": RawSQL(sql, params)})


class Client(models.Model):
    name = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # A tracker of this client that has not reported for this long is announced once as
    # silent (the tracker.silent event) until it reports again.
    silent_after_hours = models.PositiveIntegerField(
        default=24,
        db_default=24,  # set-based writers (bench data, raw inserts) need not name it
        validators=[MinValueValidator(1), MaxValueValidator(24 * 90)],
        help_text="Hours without a report after which a tracker counts as silent.",
    )

    class QuerySet(TenantQuerySet):
        client_path = "pk"

    objects = QuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "ADMIN", "Admin"
        VIEWER = "VIEWER", "Viewer"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    objects = TenantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client"], name="membership_user_client_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.client} ({self.role})"


# --- Members and accounts ------------------------------------------------------------------


class Profile(models.Model):
    """What a person sets for themselves. Made when they first save their profile; a person
    without one sees times in the site's timezone (TIME_ZONE)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    # An IANA name (zoneinfo.available_timezones); blank: the site's timezone. Read by the
    # portal (tracking.timezones.TimezoneMiddleware) and the alert e-mails.
    timezone_name = models.CharField("timezone", max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({self.timezone_name or 'site timezone'})"

    def clean(self) -> None:
        if self.timezone_name and self.timezone_name not in timezone_names():
            raise ValidationError(
                {
                    "timezone_name": f"“{self.timezone_name}” is not a timezone name; "
                    "choose one like Europe/Vienna or America/Los_Angeles."
                }
            )


INVITATION_VALID_DAYS = 7


def _invitation_expiry():
    return timezone.now() + timedelta(days=INVITATION_VALID_DAYS)


class InvitationQuerySet(TenantQuerySet):
    client_path = "client"

    def open(self, at=None) -> InvitationQuerySet:
        """Invitations that can still be accepted: not accepted, not withdrawn, not expired."""
        at = at or timezone.now()
        return self.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=at)


class Invitation(models.Model):
    """A client admin's invitation of a person, by e-mail address, with a role. The e-mail
    carries a link with a token (256 random bits) of which only the SHA-256 is kept, as for
    share links; the link works once, until `expires_at`. Accepting it makes the membership."""

    class State(models.TextChoices):
        OPEN = "OPEN", "Open"
        ACCEPTED = "ACCEPTED", "Accepted"
        EXPIRED = "EXPIRED", "Expired"
        REVOKED = "REVOKED", "Withdrawn"

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Membership.Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} → {self.client} ({self.role})"

    def state(self, at=None) -> str:
        if self.accepted_at is not None:
            return self.State.ACCEPTED
        if self.revoked_at is not None:
            return self.State.REVOKED
        if self.expires_at <= (at or timezone.now()):
            return self.State.EXPIRED
        return self.State.OPEN

    def get_state_display(self) -> str:
        return self.State(self.state()).label

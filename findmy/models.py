"""Apple accounts, the persistent fetch queue (one state row per tracker) and the fetch log."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone

from tracking import encryption
from tracking.models import Tracker


@dataclass(frozen=True)
class AccountSession:
    """What a fetch needs from an Apple login. Never logged, never shown."""

    dsid: str
    search_party_token: str
    anisette_url: str = ""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "dsid": self.dsid,
                "search_party_token": self.search_party_token,
                "anisette_url": self.anisette_url,
            }
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> AccountSession:
        data = json.loads(raw)
        return cls(
            dsid=data["dsid"],
            search_party_token=data["search_party_token"],
            anisette_url=data.get("anisette_url", ""),
        )

    def __repr__(self) -> str:  # keep the token out of tracebacks and logs
        return f"AccountSession(dsid={self.dsid!r}, anisette_url={self.anisette_url!r})"


class AppleAccount(models.Model):
    """An Apple ID whose FindMy session is used to ask for reports. Several share the load."""

    class Health(models.TextChoices):
        OK = "OK", "OK"
        NEEDS_LOGIN = "NEEDS_LOGIN", "Needs login"
        BACKING_OFF = "BACKING_OFF", "Backing off"

    # Re-encrypted by `manage.py rotate_encryption_key`.
    encrypted_fields = ("session_encrypted", "password_encrypted")

    name = models.CharField(max_length=200, unique=True)
    session_encrypted = models.BinaryField(editable=False)
    # Set when the platform logged the account in itself (findmy.login). With the password
    # kept, a 401 during a fetch leads to one re-login instead of NEEDS_LOGIN.
    username = models.CharField(
        max_length=200, blank=True, help_text="The Apple ID, when the platform logged it in."
    )
    password_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    client_id = models.CharField(
        max_length=36, blank=True, help_text="The client id iCloud knows this login by."
    )
    is_enabled = models.BooleanField(default=True)
    health = models.CharField(max_length=12, choices=Health.choices, default=Health.OK)

    # Rate limit: no request before next_request_at; back-off: none before backoff_until.
    next_request_at = models.DateTimeField(default=timezone.now)
    backoff_until = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)

    requests_total = models.PositiveBigIntegerField(default=0)
    errors_total = models.PositiveBigIntegerField(default=0)
    reports_total = models.PositiveBigIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def session(self) -> AccountSession:
        return AccountSession.from_json(encryption.decrypt(self.session_encrypted))

    def set_session(self, session: AccountSession) -> None:
        self.session_encrypted = encryption.encrypt(session.to_json())

    @property
    def dsid(self) -> str:
        """Not a secret by itself; staff need it to tell accounts apart."""
        return self.session.dsid

    @property
    def keeps_password(self) -> bool:
        return self.password_encrypted is not None

    def apple_password(self) -> str:
        return encryption.decrypt(self.password_encrypted).decode()

    def set_apple_password(self, password: str | None) -> None:
        """Keep the password (encrypted) for re-logins, or forget it with None."""
        self.password_encrypted = (
            None if password is None else encryption.encrypt(password.encode())
        )


class AccountLogin(models.Model):
    """A login between two of its steps, waiting for the second factor.

    Everything the next step needs (password, Apple's tokens, phone numbers) is in
    `state_encrypted`. The row is deleted when the account is logged in, and is worthless
    after `expires_at` (10 minutes after the start).
    """

    class State(models.TextChoices):
        NEEDS_SECOND_FACTOR = "NEEDS_SECOND_FACTOR", "Needs a second factor"
        CODE_SENT = "CODE_SENT", "Code sent"

    encrypted_fields = ("state_encrypted",)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    account_name = models.CharField(max_length=200)
    username = models.CharField(max_length=200)
    state = models.CharField(max_length=20, choices=State.choices)
    method = models.CharField(max_length=20, blank=True)
    state_encrypted = models.BinaryField(editable=False)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"login of {self.account_name} ({self.get_state_display()})"

    @property
    def secrets(self) -> dict:
        return json.loads(encryption.decrypt(self.state_encrypted))

    def set_secrets(self, value: dict) -> None:
        self.state_encrypted = encryption.encrypt(json.dumps(value).encode())


class TrackerFetchState(models.Model):
    """The fetch queue: one row per tracker, created lazily for fetchable trackers.

    A worker claims due rows with SELECT ... FOR UPDATE SKIP LOCKED and sets `claimed_until`
    (the lease); if it dies, the row is claimable again once the lease has passed.
    """

    tracker = models.OneToOneField(
        Tracker, on_delete=models.CASCADE, primary_key=True, related_name="fetch_state"
    )
    next_due_at = models.DateTimeField(default=timezone.now)
    backoff_factor = models.PositiveIntegerField(default=1)
    consecutive_misses = models.PositiveIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True)

    fetches_total = models.PositiveIntegerField(default=0)
    misses_total = models.PositiveIntegerField(default=0)
    reports_total = models.PositiveBigIntegerField(default=0)
    last_fetched_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["next_due_at"]
        indexes = [models.Index(fields=["next_due_at"], name="fetchstate_next_due")]
        verbose_name = "tracker fetch state"

    def __str__(self) -> str:
        return f"{self.tracker_id}: due {self.next_due_at:%Y-%m-%d %H:%M}"


class FetchRun(models.Model):
    """One request to Apple (or the simulator) and what came of it."""

    account = models.ForeignKey(
        AppleAccount, null=True, blank=True, on_delete=models.SET_NULL, related_name="fetch_runs"
    )
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    protocol = models.CharField(max_length=10, blank=True)
    ids_requested = models.PositiveIntegerField(default=0)
    # ids whose answer held at least one report (the others were answered with nothing)
    ids_with_reports = models.PositiveIntegerField(default=0)
    reports_returned = models.PositiveIntegerField(default=0)
    reports_new = models.PositiveIntegerField(default=0)
    reports_duplicate = models.PositiveIntegerField(default=0)
    reports_undecryptable = models.PositiveIntegerField(default=0)
    reports_out_of_window = models.PositiveIntegerField(default=0)
    error_kind = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M:%S} {self.ids_requested} ids"

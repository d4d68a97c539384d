"""Writes of the findmy app: Apple accounts and the fetch round. Keyword-only and atomic."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from tracking.encryption import InvalidToken
from tracking.models import AuditEvent, Tracker

from . import client, login, queue
from .errors import (
    AccountBackoff,
    AccountNeedsLogin,
    FetchError,
    ReloginRefused,
    SecondFactorAgain,
    SessionUnreadable,
)
from .gsa import LoginError, SecondFactorRequired
from .ingest import IngestTarget, ingest_payloads, load_tracker_key
from .models import AccountSession, AppleAccount, FetchRun, TrackerFetchState

logger = logging.getLogger(__name__)


class InvalidSession(ValueError):
    """The session file or form is not something a fetch could authenticate with."""


# --- accounts ---------------------------------------------------------------------------


SESSION_MAX_BYTES = 1_000_000  # a real session is a few kilobytes


def _member(data: dict, key: str, path: str) -> dict:
    """data[key] as an object ({} when absent); anything else is named by its path."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidSession(f"{path}{key} must be a JSON object, not {type(value).__name__}")
    return value


def _text(value, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise InvalidSession(f"{path} must be text, not {type(value).__name__}")
    return str(value)


def parse_session_json(raw: bytes | str | dict) -> AccountSession:
    """A FindMy.py `to_json()` session, or a flat {dsid, search_party_token, anisette_url}.

    Whatever arrives (an upload, a file), the answer is an AccountSession or InvalidSession
    with a reason, never another exception: the uploaded text is a secret and must not reach
    an error page or a traceback.
    """
    if isinstance(raw, bytes | str) and len(raw) > SESSION_MAX_BYTES:
        raise InvalidSession(f"the session file is larger than {SESSION_MAX_BYTES:,} bytes")
    try:
        data = raw if isinstance(raw, dict) else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSession(f"not JSON: {exc}") from None
    except RecursionError:
        raise InvalidSession("not a session: the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidSession("the session must be a JSON object")
    if "login" in data or data.get("type") == "account":
        login_data = _member(_member(data, "login", ""), "data", "login.")
        dsid = _text(login_data.get("dsid"), "login.data.dsid")
        tokens = _member(_member(login_data, "mobileme_data", "login.data."), "tokens", "")
        token = _text(tokens.get("searchPartyToken"), "searchPartyToken")
        anisette = data.get("anisette")
        anisette_url = (
            _text(anisette.get("url"), "anisette.url") if isinstance(anisette, dict) else ""
        )
    else:
        dsid = _text(data.get("dsid"), "dsid")
        token = _text(data.get("search_party_token") or data.get("searchPartyToken"), "token")
        anisette_url = _text(data.get("anisette_url"), "anisette_url")
    if not dsid or not token:
        raise InvalidSession("the session has no dsid or no searchPartyToken (not logged in?)")
    return AccountSession(dsid=dsid, search_party_token=token, anisette_url=anisette_url)


def _audit(action: str, account: AppleAccount, user=None, **details) -> None:
    AuditEvent.objects.create(
        action=action, actor=user, target=f"apple-account:{account.name}", details=details
    )


def _clear_health(account: AppleAccount) -> None:
    """The account is usable again: healthy, no back-off, its error streak over (unsaved)."""
    account.health = AppleAccount.Health.OK
    account.backoff_until = None
    account.consecutive_errors = 0


@transaction.atomic
def account_save_session(
    *, name: str, session: AccountSession, user=None, source: str = "manual"
) -> AppleAccount:
    """Create the account or give it a new session; a new session clears NEEDS_LOGIN."""
    if not name.strip():
        raise InvalidSession("the account needs a name")
    if not session.dsid.strip() or not session.search_party_token.strip():
        raise InvalidSession("dsid and search-party token are both required")
    account = AppleAccount.objects.select_for_update().filter(name=name).first()
    created = account is None
    if created:
        account = AppleAccount(name=name)
    account.set_session(session)
    _clear_health(account)
    account.save()
    _audit(
        "findmy.account_created" if created else "findmy.account_session_replaced",
        account,
        user,
        source=source,
        anisette_url=session.anisette_url,
    )
    return account


def account_import_session(*, name: str, session_json: bytes | str | dict, user=None):
    return account_save_session(
        name=name, session=parse_session_json(session_json), user=user, source="import"
    )


@transaction.atomic
def account_reset_health(*, account: AppleAccount, user=None) -> AppleAccount:
    """Staff say the account may be tried again now (after Apple's outage, say)."""
    account = AppleAccount.objects.select_for_update().get(pk=account.pk)
    before = account.health
    _clear_health(account)
    account.next_request_at = timezone.now()
    account.save()
    _audit("findmy.account_reset", account, user, health_before=before)
    return account


@transaction.atomic
def account_set_enabled(*, account: AppleAccount, enabled: bool, user=None) -> AppleAccount:
    account = AppleAccount.objects.select_for_update().get(pk=account.pk)
    account.is_enabled = enabled
    account.save(update_fields=["is_enabled", "updated_at"])
    _audit("findmy.account_enabled" if enabled else "findmy.account_disabled", account, user)
    return account


@transaction.atomic
def account_record_success(*, account_id: int, reports: int, now: datetime) -> None:
    account = AppleAccount.objects.select_for_update().get(pk=account_id)
    before = account.health
    _clear_health(account)
    account.last_success_at = now
    account.reports_total += reports
    account.save()
    if before != account.health:
        _audit("findmy.account_recovered", account, health_before=before)


@transaction.atomic
def account_record_error(*, account_id: int, error: FetchError, now: datetime) -> None:
    """A permanent error (401, a session that no longer decrypts) needs a new login; a
    transient one rests the account, longer each time."""
    account = AppleAccount.objects.select_for_update().get(pk=account_id)
    before = account.health
    account.errors_total += 1
    account.consecutive_errors += 1
    account.last_error = f"{error.kind}: {error}"[:2000]
    account.last_error_at = now
    if not error.transient:
        account.health = AppleAccount.Health.NEEDS_LOGIN
    else:
        delay = min(
            settings.FINDMY_ACCOUNT_BACKOFF_BASE_SECONDS * 2 ** (account.consecutive_errors - 1),
            settings.FINDMY_ACCOUNT_MAX_BACKOFF_SECONDS,
        )
        if isinstance(error, AccountBackoff) and error.retry_after:
            delay = max(delay, min(error.retry_after, settings.FINDMY_ACCOUNT_MAX_BACKOFF_SECONDS))
        account.health = AppleAccount.Health.BACKING_OFF
        account.backoff_until = now + timedelta(seconds=delay)
    account.save()
    if before != account.health:
        _audit(
            "findmy.account_health_changed",
            account,
            health_before=before,
            health=account.health,
            error=account.last_error[:200],
        )


# --- fetching ---------------------------------------------------------------------------


@dataclass
class RoundSummary:
    requests: int = 0
    errors: int = 0
    trackers: int = 0
    reports_new: int = 0
    fetch_run_ids: list[int] = field(default_factory=list)
    stopped_because: str = ""

    def add(self, run: FetchRun, *, trackers: int) -> None:
        self.requests += 1
        self.trackers += trackers
        self.reports_new += run.reports_new
        self.fetch_run_ids.append(run.pk)
        if run.error_kind:
            self.errors += 1


def fetch_once(
    *,
    account_id: int,
    claims: Sequence[queue.Claim],
    worker: str,
    reask: list[list[queue.Claim]] | None = None,
) -> FetchRun:
    """One request for the claimed trackers with one account, and everything that follows.

    When the answer looks cut (see `_claims_to_reask`), what came is stored, and the trackers
    to ask again stay claimed and are added to `reask` in smaller groups; without a `reask`
    list they are released, due at once and without a miss."""
    now = timezone.now()
    account = AppleAccount.objects.get(pk=account_id)
    protocol = settings.FINDMY_FETCH_PROTOCOL
    queries = [client.KeyQuery(claim.hashed_key, *claim.window(now)) for claim in claims]
    run = FetchRun(account=account, started_at=now, protocol=protocol, ids_requested=len(claims))
    started = time.perf_counter()
    try:
        answer = _fetch_with_relogin(account, queries=queries, protocol=protocol)
    except FetchError as exc:
        run.duration_ms = _elapsed_ms(started)
        run.error_kind, run.error = exc.kind, str(exc)[:2000]
        logger.warning("fetch with account %s failed: %s: %s", account.name, exc.kind, exc)
        with transaction.atomic():
            account_record_error(account_id=account_id, error=exc, now=timezone.now())
            queue.release_trackers(tracker_ids=[c.tracker_id for c in claims], worker=worker)
            run.save()
        return run
    batches, unusable_keys = _ingest_batches(claims, answer)
    again = _claims_to_reask(claims, answer)
    with transaction.atomic():
        result = ingest_payloads(batches=batches, received_at=timezone.now())
        # Apple answered for every claimed tracker (an unanswered request raised above),
        # except those a cut answer left out.
        queue.record_answered(
            tracker_ids=[c.tracker_id for c in claims if c not in again],
            valid_by_tracker=result.valid_by_tracker,
            new_by_tracker=result.new_by_tracker,
            now=now,
        )
        account_record_success(account_id=account_id, reports=result.new, now=timezone.now())
        run.ids_with_reports = sum(1 for c in claims if answer.payloads.get(c.hashed_key))
        run.reports_returned = result.returned + answer.undecodable + unusable_keys
        run.reports_new = result.new
        run.reports_duplicate = result.duplicate
        run.reports_undecryptable = result.undecryptable + answer.undecodable + unusable_keys
        run.reports_out_of_window = result.out_of_window
        run.duration_ms = _elapsed_ms(started)
        run.save()
    if again:
        logger.info(
            "answer of account %s looks cut (%d reports for %d of %d keys): asking %d again",
            account.name,
            answer.report_count + answer.undecodable,
            len(answer.payloads),
            len(claims),
            len(again),
        )
        if reask is None:
            queue.release_trackers(tracker_ids=[c.tracker_id for c in again], worker=worker)
        else:
            size = max(1, min(settings.FINDMY_REASK_IDS_PER_REQUEST, len(claims) // 2))
            reask.extend(again[i : i + size] for i in range(0, len(again), size))
    return run


def _fetch_with_relogin(
    account: AppleAccount, *, queries: Sequence[client.KeyQuery], protocol: str
) -> client.FetchAnswer:
    """One request. On 401, an account that keeps its password logs in again (one GSA login,
    one delegates call) and the request is retried once; a second 401 is final."""
    try:
        return client.fetch_reports(
            session=_readable_session(account), queries=queries, protocol=protocol
        )
    except SessionUnreadable:
        raise
    except AccountNeedsLogin as refused:
        if not account.keeps_password:
            raise
        logger.info("account %s: session refused (%s); logging in again", account.name, refused)
    try:
        session = login.account_relogin(account_id=account.pk)
    except SecondFactorRequired as exc:
        raise SecondFactorAgain(str(exc)) from exc
    except LoginError as exc:
        if exc.transient:  # anisette or Apple down: rest the account, re-login next time
            raise AccountBackoff(f"re-login after HTTP 401 failed for now: {exc}") from exc
        raise ReloginRefused(f"HTTP 401, then the re-login failed: {exc}") from exc
    return client.fetch_reports(session=session, queries=queries, protocol=protocol)


def _claims_to_reask(
    claims: Sequence[queue.Claim], answer: client.FetchAnswer
) -> list[queue.Claim]:
    """The claims a cut answer did not really answer, or [] when it does not look cut.

    Apple has been seen answering a request for several keys with reports for only some of
    them, cut at 20 to 40 reports. Such an answer (fewer keys with reports than asked, a
    report count in FINDMY_CUT_ANSWER_MIN/MAX_REPORTS) says nothing about the keys without
    reports, and the last key with reports may have been cut in the middle, so those are
    asked again. A silent tracker asked alone gives an answer that does not look cut, so it
    still counts its miss then."""
    if len(claims) < 2:
        return []
    count = answer.report_count + answer.undecodable
    keys_with_reports = sum(1 for c in claims if answer.payloads.get(c.hashed_key))
    if keys_with_reports == len(claims) or not (
        settings.FINDMY_CUT_ANSWER_MIN_REPORTS <= count <= settings.FINDMY_CUT_ANSWER_MAX_REPORTS
    ):
        return []
    last_key = next(reversed(answer.payloads), None)
    return [c for c in claims if not answer.payloads.get(c.hashed_key) or c.hashed_key == last_key]


def _readable_session(account: AppleAccount) -> AccountSession:
    try:
        return account.session
    except (InvalidToken, ValueError, KeyError) as exc:
        raise SessionUnreadable(
            "the stored session cannot be decrypted with the current encryption keys; "
            "log the account in again or import its session"
        ) from exc


def _ingest_batches(
    claims: Sequence[queue.Claim], answer: client.FetchAnswer
) -> tuple[list[tuple[IngestTarget, list[bytes]]], int]:
    """Each claimed tracker's payloads with its key and window, and the number of payloads
    whose tracker key no longer loads (they can't be read, so they count as undecryptable)."""
    batches = []
    unusable_keys = 0
    for claim in claims:
        payloads = answer.payloads.get(claim.hashed_key, [])
        try:
            key = load_tracker_key(claim.private_key_encrypted)
        except (InvalidToken, ValueError):
            # A key that no longer decrypts (a rotation gone wrong): its reports can't be read.
            logger.error("tracker %s: private key cannot be loaded", claim.mac_address)
            unusable_keys += len(payloads)
            continue
        target = IngestTarget(
            tracker_id=claim.tracker_id,
            key=key,
            window_start=claim.observed_from,
            window_end=claim.run_ends_at,
        )
        batches.append((target, payloads))
    return batches, unusable_keys


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def fetch_due(
    *,
    tracker_macs: Sequence[str] | None = None,
    max_requests: int | None = None,
    round_seconds: float | None = None,
    progress: Callable[[str], None] | None = None,
    worker: str | None = None,
) -> RoundSummary:
    """Fetch reports for due trackers until none is due, no account is ready in time, or the
    round's request/time budget is spent. Safe to run in several workers at once."""
    if settings.FINDMY_FETCH_PROTOCOL not in client.PROTOCOLS:
        # Checked before anything is claimed: no tracker stays leased, no account is blamed.
        raise ImproperlyConfigured(
            f"FINDMY_FETCH_PROTOCOL={settings.FINDMY_FETCH_PROTOCOL!r} is not one of "
            f"{', '.join(client.PROTOCOLS)}"
        )
    worker = worker or queue.worker_name()
    max_requests = max_requests or settings.FINDMY_MAX_REQUESTS_PER_ROUND
    budget = settings.FINDMY_ROUND_SECONDS if round_seconds is None else round_seconds
    deadline = time.monotonic() + budget
    say = progress or (lambda message: None)
    summary = RoundSummary()
    tracker_ids = None if tracker_macs is None else _tracker_ids(tracker_macs)
    queue.ensure_fetch_states(now=timezone.now())
    reask: list[list[queue.Claim]] = []  # groups of cut answers, asked before anything new
    while summary.requests < max_requests:
        asked_again = bool(reask)
        if asked_again:
            claims = reask.pop(0)
        else:
            claims = queue.claim_trackers(
                limit=settings.FINDMY_IDS_PER_REQUEST,
                now=timezone.now(),
                worker=worker,
                tracker_ids=tracker_ids,
            )
            if not claims:
                summary.stopped_because = "nothing due"
                break
        account_id = queue.claim_account(now=timezone.now())
        if account_id is None:
            if asked_again:
                reask.insert(0, claims)  # released below if no account comes in time
            else:
                queue.release_trackers(tracker_ids=[c.tracker_id for c in claims], worker=worker)
            if not _wait_for_account(deadline):
                summary.stopped_because = "no account ready"
                break
            continue
        run = fetch_once(account_id=account_id, claims=claims, worker=worker, reask=reask)
        summary.add(run, trackers=len(claims))
        say(_describe(run, trackers=len(claims)))
        if tracker_ids is not None and not run.error_kind:
            # A manual fetch of named trackers: each is fetched once.
            pending = {c.tracker_id for group in reask for c in group}
            fetched = {c.tracker_id for c in claims} - pending
            tracker_ids = [t for t in tracker_ids if t not in fetched]
            if not tracker_ids:
                summary.stopped_because = "done"
                break
        if time.monotonic() > deadline:
            summary.stopped_because = "time budget spent"
            break
    else:
        summary.stopped_because = "request budget spent"
    # Trackers still to be asked again go back to the queue, due now and without a miss.
    queue.release_trackers(tracker_ids=[c.tracker_id for g in reask for c in g], worker=worker)
    return summary


def _tracker_ids(tracker_macs: Sequence[str]) -> list[int]:
    macs = [m.upper() for m in tracker_macs]
    return list(Tracker.objects.filter(mac_address__in=macs).values_list("pk", flat=True))


def _wait_for_account(deadline: float) -> bool:
    """Sleep until the soonest account is ready; False (without sleeping) when none is usable
    or none will be ready before the round's deadline."""
    ready_at = queue.next_account_ready_at()
    if ready_at is None:
        return False
    wait = max((ready_at - timezone.now()).total_seconds(), 0)
    if time.monotonic() + wait > deadline:
        return False
    time.sleep(wait + 0.01)
    return True


def _describe(run: FetchRun, *, trackers: int) -> str:
    return (
        f"{trackers} trackers: {run.reports_returned} returned, {run.reports_new} new, "
        f"{run.reports_duplicate} duplicate, {run.reports_undecryptable} undecryptable"
        + (f", error {run.error_kind}: {run.error}" if run.error_kind else "")
    )


@transaction.atomic
def trackers_fetch_now(*, tracker_ids: Sequence[int], user=None) -> int:
    """Put these trackers first in the fetch queue; returns how many were queued.

    Only the order changes: the next fetch round claims them before any other due tracker,
    through the same accounts and the same per-account rate limit as every fetch. Trackers
    that are not fetchable (not ACTIVE, run not live) are left out.
    """
    now = timezone.now()
    queue.ensure_fetch_states(now=now)
    first = TrackerFetchState.objects.aggregate(first=Min("next_due_at"))["first"] or now
    queued = TrackerFetchState.objects.filter(
        tracker__in=Tracker.objects.fetchable(now).filter(pk__in=list(tracker_ids))
    ).update(next_due_at=min(first, now) - timedelta(seconds=1))
    AuditEvent.objects.create(
        actor=user if user is not None and user.is_authenticated else None,
        action="fetch.now",
        target=f"{queued} trackers",
        details={"tracker_ids": sorted(tracker_ids)[:1000], "queued": queued},
    )
    return queued

"""Apple accounts that log themselves in: the login as a small state machine, and re-login.

    logged out --login_start--> needs second factor --login_request_code--> code sent
               \\                                                             |
                `-------------(no second factor)------> logged in <--login_submit_code

The state between two steps is an `AccountLogin` row whose secrets are encrypted; it expires
FINDMY_LOGIN_STATE_MINUTES after the start. The account is written only when the login is
complete, in one transaction: a failed or abandoned login leaves nothing half-saved.
`account_relogin` is what a fetch does on 401 when the account keeps its password.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracking.models import AuditEvent

from . import gsa, services
from .gsa import (
    SECOND_FACTORS,
    SMS,
    TRUSTED_DEVICE,
    GsaClient,
    GsaTokens,
    LoginError,
    SecondFactorRequired,
    TrustedPhone,
    mask_phone_number,
)
from .models import AccountLogin, AccountSession, AppleAccount

logger = logging.getLogger(__name__)

LOGGED_OUT = "logged_out"
NEEDS_SECOND_FACTOR = "needs_second_factor"
CODE_SENT = "code_sent"
LOGGED_IN = "logged_in"


class LoginExpired(LoginError):
    kind = "expired"


class InvalidLoginInput(LoginError):
    kind = "invalid_input"


@dataclass
class LoginStep:
    """Where a login stands after a step. Phone numbers are masked; nothing here is secret."""

    state: str
    login_id: uuid.UUID | None = None
    account_name: str = ""
    account: AppleAccount | None = None
    methods: list[str] = field(default_factory=list)
    phones: list[TrustedPhone] = field(default_factory=list)
    method: str = ""
    phone_id: int | None = None  # the phone the SMS code went to
    expires_at: object = None


def _audit(action: str, name: str, user=None, **details) -> None:
    AuditEvent.objects.create(
        action=action, actor=user, target=f"apple-account:{name}", details=details
    )


def _client(state: dict) -> GsaClient:
    return GsaClient(anisette_url=state["anisette_url"], client_id=state["client_id"])


def _tokens(state: dict) -> GsaTokens:
    return GsaTokens(adsid=state["adsid"], idms_token=state["idms_token"])


def _step(login: AccountLogin) -> LoginStep:
    state = login.secrets
    phones = [
        TrustedPhone(id=p["id"], number=mask_phone_number(p["number"])) for p in state["phones"]
    ]
    methods = [TRUSTED_DEVICE] if state["second_factor"] == TRUSTED_DEVICE else []
    if phones:
        methods.append(SMS)
    return LoginStep(
        state=NEEDS_SECOND_FACTOR
        if login.state == AccountLogin.State.NEEDS_SECOND_FACTOR
        else CODE_SENT,
        login_id=login.pk,
        account_name=login.account_name,
        methods=methods,
        phones=phones,
        method=login.method,
        phone_id=state.get("phone_id"),
        expires_at=login.expires_at,
    )


def purge_expired_logins(*, now=None) -> int:
    deleted, _ = AccountLogin.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def _load(login_id, user=None) -> AccountLogin:
    """The login in progress; with `user`, only one that user started (another's is unknown)."""
    logins = AccountLogin.objects.all()
    if user is not None:
        logins = logins.filter(started_by=user)
    try:
        login = logins.get(pk=login_id)
    except (AccountLogin.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise LoginExpired(
            "This login is unknown or was already finished; start the login again."
        ) from exc
    if login.expires_at <= timezone.now():
        login.delete()
        raise LoginExpired(
            f"This login was started more than {settings.FINDMY_LOGIN_STATE_MINUTES} minutes "
            "ago and has expired; start the login again."
        )
    return login


@transaction.atomic
def _finish(
    *,
    name: str,
    username: str,
    password: str,
    keep_password: bool,
    client_id: str,
    anisette_url: str,
    dsid: str,
    search_party_token: str,
    user,
    source: str,
) -> AppleAccount:
    account = services.account_save_session(
        name=name,
        session=AccountSession(
            dsid=dsid, search_party_token=search_party_token, anisette_url=anisette_url
        ),
        user=user,
        source=source,
    )
    account.username = username
    account.client_id = client_id
    account.set_apple_password(password if keep_password else None)
    account.save(update_fields=["username", "client_id", "password_encrypted", "updated_at"])
    return account


def login_start(
    *,
    name: str,
    username: str,
    password: str,
    anisette_url: str = "",
    keep_password: bool = True,
    user=None,
    source: str = "login",
) -> LoginStep:
    """Username and password. Logs in at once when Apple needs no second factor."""
    name, username = (name or "").strip(), (username or "").strip()
    if not name:
        raise InvalidLoginInput("The account needs a name.")
    if not username:
        raise InvalidLoginInput("Enter the Apple ID (the account's e-mail address).")
    if not password:
        raise InvalidLoginInput("Enter the Apple ID's password.")
    purge_expired_logins()
    existing = AppleAccount.objects.filter(name=name).first()
    client_id = (existing.client_id if existing else "") or str(uuid.uuid4()).upper()
    anisette_url = (anisette_url or "").strip()
    with GsaClient(anisette_url=anisette_url, client_id=client_id) as client:
        tokens = client.authenticate(username, password)
        if not tokens.second_factor:
            dsid, token = client.login_delegates(username, tokens)
            account = _finish(
                name=name,
                username=username,
                password=password,
                keep_password=keep_password,
                client_id=client_id,
                anisette_url=anisette_url,
                dsid=dsid,
                search_party_token=token,
                user=user,
                source=source,
            )
            return LoginStep(state=LOGGED_IN, account=account)
        try:
            phones = client.trusted_phones(tokens)
        except LoginError:
            if tokens.second_factor == SMS:
                raise
            # A trusted device is enough; SMS is only the alternative here.
            logger.warning("no trusted phone numbers for this Apple ID; trusted device only")
            phones = []
    now = timezone.now()
    login = AccountLogin(
        account_name=name,
        username=username,
        state=AccountLogin.State.NEEDS_SECOND_FACTOR,
        started_by=user if getattr(user, "pk", None) else None,
        created_at=now,
        expires_at=now + timedelta(minutes=settings.FINDMY_LOGIN_STATE_MINUTES),
    )
    login.set_secrets(
        {
            "password": password,
            "keep_password": keep_password,
            "anisette_url": anisette_url,
            "client_id": client_id,
            "adsid": tokens.adsid,
            "idms_token": tokens.idms_token,
            "second_factor": tokens.second_factor,
            "phones": [{"id": p.id, "number": p.number} for p in phones],
            "phone_id": None,
        }
    )
    login.save()
    return _step(login)


def login_step(*, login_id, user=None) -> LoginStep:
    """Where a login in progress stands (LoginExpired when it is gone or too old)."""
    return _step(_load(login_id, user))


def login_request_code(
    *, login_id, method: str, phone_id: int | None = None, user=None
) -> LoginStep:
    """Make Apple show a code on the trusted devices, or send one by SMS to `phone_id`."""
    login = _load(login_id, user)
    state = login.secrets
    available = _step(login)
    if method not in SECOND_FACTORS:
        raise InvalidLoginInput(f"Unknown second factor {method!r}; one of {SECOND_FACTORS}.")
    if method not in available.methods:
        raise InvalidLoginInput(f"Apple does not offer {method} for this Apple ID.")
    if method == SMS:
        ids = [p["id"] for p in state["phones"]]
        if phone_id is None and len(ids) == 1:
            phone_id = ids[0]
        if phone_id not in ids:
            raise InvalidLoginInput(
                f"Choose one of the trusted phone numbers (ids {', '.join(map(str, ids))})."
            )
    with _client(state) as client:
        client.request_code(_tokens(state), method=method, phone_id=phone_id)
    state["phone_id"] = phone_id if method == SMS else None
    login.set_secrets(state)
    login.state = AccountLogin.State.CODE_SENT
    login.method = method
    login.save(update_fields=["state_encrypted", "state", "method"])
    return _step(login)


def login_submit_code(*, login_id, code: str, user=None, source: str = "login") -> LoginStep:
    """The code; then GSA again (now without second factor) and the iCloud delegates."""
    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        raise InvalidLoginInput("The code is the six digits Apple showed or sent.")
    login = _load(login_id, user)
    if login.state != AccountLogin.State.CODE_SENT:
        raise InvalidLoginInput("Choose how Apple sends the code first.")
    state = login.secrets
    with _client(state) as client:
        client.submit_code(
            _tokens(state), method=login.method, code=code, phone_id=state.get("phone_id")
        )
        tokens = client.authenticate(login.username, state["password"])
        if tokens.second_factor:
            raise gsa.LoginProtocolError(
                "Apple accepted the code but still asks for a second factor; start again."
            )
        dsid, token = client.login_delegates(login.username, tokens)
    with transaction.atomic():
        account = _finish(
            name=login.account_name,
            username=login.username,
            password=state["password"],
            keep_password=state["keep_password"],
            client_id=state["client_id"],
            anisette_url=state["anisette_url"],
            dsid=dsid,
            search_party_token=token,
            user=user,
            source=f"{source} ({login.method})",
        )
        login.delete()
    return LoginStep(state=LOGGED_IN, account=account)


def login_cancel(*, login_id, user=None) -> None:
    logins = AccountLogin.objects.filter(pk=login_id)
    if user is not None:
        logins = logins.filter(started_by=user)
    logins.delete()


def account_relogin(*, account_id: int) -> AccountSession:
    """One GSA login and one delegates call with the kept password; the new session is saved.

    Raises SecondFactorRequired when Apple wants a code, and LoginError for the rest; the
    caller decides what that means for the account's health.
    """
    account = AppleAccount.objects.get(pk=account_id)
    if not account.username or not account.keeps_password:
        raise LoginError("the account keeps no password, so it cannot log in again by itself")
    session = account.session
    with GsaClient(anisette_url=session.anisette_url, client_id=account.client_id) as client:
        tokens = client.authenticate(account.username, account.apple_password())
        if tokens.second_factor:
            raise SecondFactorRequired(
                "Apple asks for a second factor again; log the account in with "
                f"`manage.py findmy_account login {account.name} --username ...` "
                "or admin's \u201cLog in an Apple account\u201d."
            )
        dsid, token = client.login_delegates(account.username, tokens)
    new_session = AccountSession(
        dsid=dsid, search_party_token=token, anisette_url=session.anisette_url
    )
    with transaction.atomic():
        locked = AppleAccount.objects.select_for_update().get(pk=account_id)
        locked.set_session(new_session)
        locked.save(update_fields=["session_encrypted", "updated_at"])
        _audit("findmy.account_relogin", locked.name)
    logger.info("account %s logged in again after a refused session", account.name)
    return new_session

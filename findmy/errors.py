"""Errors of the fetch path. Each says whether trying again later can help (`transient`).

None of them is a tracker's fault: they all concern the account, Apple or the anisette server.
"""

from __future__ import annotations


class FetchError(Exception):
    transient = True
    kind = "error"


class TransientFetchError(FetchError):
    """Timeouts, connection errors, unexpected answers: try again later, same account."""

    kind = "transient"


class ResponseTooLarge(TransientFetchError):
    """An answer past FINDMY_MAX_RESPONSE_BYTES: read no further, rest the account."""

    kind = "too_large"


class AnisetteUnavailable(TransientFetchError):
    kind = "anisette"


class AccountBackoff(TransientFetchError):
    """Apple is refusing or failing for this account (429, 5xx, empty 200s): rest the account."""

    kind = "backoff"

    def __init__(self, message: str, *, retry_after: float | None = None, status: int = 0):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class EmptyResponse(AccountBackoff):
    kind = "empty"


class AccountNeedsLogin(FetchError):
    """401: the session token has expired. Permanent until staff import a new session."""

    transient = False
    kind = "needs_login"


class SessionUnreadable(AccountNeedsLogin):
    """The stored session no longer decrypts (the encryption key changed without a rotation):
    only a new login or import can help, and no other account is affected."""

    kind = "session_unreadable"


class ReloginRefused(AccountNeedsLogin):
    """401, and the re-login with the kept password failed too: staff must log in again."""

    kind = "relogin_refused"


class SecondFactorAgain(AccountNeedsLogin):
    """401, and Apple wants a second-factor code before it logs the account in again."""

    kind = "second_factor_again"

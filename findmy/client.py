"""Fetch client: ask Apple's FindMy service (or the simulator) for reports by hashed key.

Speaks the v2 protocol (`POST .../findmyservice/v2/fetch`, since mid-2025) and the legacy one
(`POST .../acsnservice/fetch`), chosen by FINDMY_FETCH_PROTOCOL. Errors are the classes in
findmy.errors; none of them is the fault of a tracker.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from django.conf import settings

from . import anisette
from .errors import (
    AccountBackoff,
    AccountNeedsLogin,
    EmptyResponse,
    ResponseTooLarge,
    TransientFetchError,
)
from .models import AccountSession

logger = logging.getLogger(__name__)

PROTOCOLS = ("v2", "legacy")
USER_AGENT = "searchpartyuseragent/1 trackersite"


@dataclass(frozen=True)
class KeyQuery:
    """One hashed advertisement key and the time window its reports are wanted for."""

    hashed_key: str
    start: datetime
    end: datetime


@dataclass
class FetchAnswer:
    """Raw payloads per hashed key of an answered request; a key Apple has nothing for is
    absent. An unanswered request raises instead (findmy.errors), so every key of a
    FetchAnswer was answered."""

    payloads: dict[str, list[bytes]] = field(default_factory=dict)
    undecodable: int = 0  # payloads that were not even base64

    @property
    def report_count(self) -> int:
        return sum(len(p) for p in self.payloads.values())


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _entries(queries: Sequence[KeyQuery], entries_per_request: int) -> list[list[KeyQuery]]:
    """Split the ids over at most `entries_per_request` fetch entries of equal size."""
    per_entry = max(1, math.ceil(len(queries) / max(1, entries_per_request)))
    return [list(queries[i : i + per_entry]) for i in range(0, len(queries), per_entry)]


def build_request_body(
    queries: Sequence[KeyQuery], *, protocol: str, entries_per_request: int
) -> dict:
    entries = _entries(queries, entries_per_request)
    if protocol == "legacy":
        return {
            "search": [
                {
                    "startDate": _ms(min(q.start for q in entry)),
                    "endDate": _ms(max(q.end for q in entry)),
                    "ids": [q.hashed_key for q in entry],
                }
                for entry in entries
            ]
        }
    fetch = []
    for entry in entries:
        start = _ms(min(q.start for q in entry))
        fetch.append(
            {
                "ownedDeviceIds": [],
                "keyType": 1,
                "startDate": start,
                "startDateSecondary": start,
                "endDate": _ms(max(q.end for q in entry)),
                "primaryIds": [q.hashed_key for q in entry],
                "secondaryIds": [],
            }
        )
    return {
        "clientContext": {
            "clientBundleIdentifier": "com.apple.icloud.searchpartyuseragent",
            "policy": "foregroundClient",
        },
        "fetch": fetch,
    }


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        return None


def parse_response(body: dict, *, protocol: str, answer: FetchAnswer) -> None:
    """Collect the payloads of a response body into `answer`."""

    def add(hashed_key: str, encoded: str) -> None:
        payload = _b64(encoded)
        if payload is None:
            answer.undecodable += 1
        else:
            answer.payloads.setdefault(hashed_key, []).append(payload)

    if protocol == "legacy":
        results = body.get("results")
        if not isinstance(results, list):
            raise TransientFetchError("legacy answer without a results list")
        for result in results:
            if isinstance(result, dict) and result.get("id") and result.get("payload"):
                add(result["id"], result["payload"])
        return
    locations = body.get("acsnLocations")
    if not isinstance(locations, dict):
        raise TransientFetchError("v2 answer without acsnLocations")
    status = str(locations.get("statusCode", "200"))
    if status != "200":
        raise AccountBackoff(f"v2 answer with statusCode {status}", status=int(status or 0))
    for entry in locations.get("locationPayload") or []:
        if isinstance(entry, dict) and entry.get("id"):
            for encoded in entry.get("locationInfo") or []:
                add(entry["id"], encoded)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


def fetch_reports(
    *,
    session: AccountSession,
    queries: Sequence[KeyQuery],
    protocol: str | None = None,
    url: str | None = None,
    timeout: float | None = None,
    empty_retries: int | None = None,
    entries_per_request: int | None = None,
) -> FetchAnswer:
    """One logical request for `queries`; an empty 200 is retried a few times."""
    protocol = protocol or settings.FINDMY_FETCH_PROTOCOL
    if protocol not in PROTOCOLS:
        raise ValueError(f"FINDMY_FETCH_PROTOCOL must be one of {PROTOCOLS}, not {protocol!r}")
    url = url or settings.FINDMY_FETCH_URL
    timeout = timeout if timeout is not None else settings.FINDMY_HTTP_TIMEOUT_SECONDS
    if empty_retries is None:
        empty_retries = settings.FINDMY_EMPTY_RESPONSE_RETRIES
    body = build_request_body(
        queries,
        protocol=protocol,
        entries_per_request=entries_per_request or settings.FINDMY_ENTRIES_PER_REQUEST,
    )
    max_bytes = settings.FINDMY_MAX_RESPONSE_BYTES
    answer = FetchAnswer()
    with httpx.Client(timeout=timeout, auth=(session.dsid, session.search_party_token)) as http:
        for attempt in range(1, empty_retries + 2):
            headers = anisette.get_headers(session.anisette_url or None, timeout=timeout)
            headers.update({"User-Agent": USER_AGENT, "Accept": "*/*"})
            try:
                with http.stream("POST", url, json=body, headers=headers) as response:
                    status = response.status_code
                    content = _read_capped(response, max_bytes)
            except httpx.TimeoutException as exc:
                raise TransientFetchError(f"timeout after {timeout}s: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise TransientFetchError(f"HTTP error: {exc!r}") from exc
            if status in (401, 403):
                raise AccountNeedsLogin(f"HTTP {status}: the session token was refused")
            if status == 429 or status >= 500:
                raise AccountBackoff(
                    f"HTTP {status}", retry_after=_retry_after(response), status=status
                )
            if status != 200:
                raise TransientFetchError(
                    f"HTTP {status}: {content[:200].decode('utf-8', 'replace')}"
                )
            if not content.strip():
                logger.info("empty 200 from %s (attempt %d)", url, attempt)
                continue
            try:
                parsed = json.loads(content)
            except (ValueError, RecursionError) as exc:
                raise TransientFetchError("HTTP 200 with a body that is not JSON") from exc
            if not isinstance(parsed, dict):
                raise TransientFetchError("HTTP 200 with a JSON body that is not an object")
            parse_response(parsed, protocol=protocol, answer=answer)
            return answer
    raise EmptyResponse(f"{empty_retries + 1} empty 200 answers in a row", status=200)


def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, or ResponseTooLarge as soon as it passes `max_bytes` (announced or read):
    an answer that large is a broken or hostile server, and reading it all would cost the
    worker its memory."""
    announced = response.headers.get("Content-Length", "")
    if announced.isdigit() and int(announced) > max_bytes:
        raise ResponseTooLarge(f"answer of {int(announced):,} bytes (limit {max_bytes:,})")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"answer larger than the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

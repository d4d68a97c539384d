"""Anisette client: the one-time headers Apple wants next to the session token.

An anisette server (anisette-v3-server) answers `GET /` with a JSON object of headers that stay
valid for about 30 s; they are cached per server for FINDMY_ANISETTE_CACHE_SECONDS.
Every failure here is transient: the server may be back in a minute.
"""

from __future__ import annotations

import threading
import time

import httpx
from django.conf import settings

from .errors import AnisetteUnavailable

REQUIRED_HEADERS = ("X-Apple-I-MD", "X-Apple-I-MD-M")
DEFAULT_HEADERS = {
    "X-Apple-I-MD-RINFO": "17106176",
    "X-Apple-I-TimeZone": "UTC",
    "X-Apple-Locale": "en_US",
    "loc": "en_US",
    "X-Apple-I-SRL-NO": "0",
}

_lock = threading.Lock()
_cache: dict[str, tuple[float, dict[str, str]]] = {}


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def get_headers(url: str | None = None, *, timeout: float | None = None) -> dict[str, str]:
    """Anisette headers from the server at `url` (default ANISETTE_URL), cached briefly."""
    url = url or settings.ANISETTE_URL
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
        if cached and cached[0] > now:
            return dict(cached[1])
    headers = _request(url, timeout or settings.FINDMY_HTTP_TIMEOUT_SECONDS)
    with _lock:
        _cache[url] = (now + settings.FINDMY_ANISETTE_CACHE_SECONDS, headers)
    return dict(headers)


def _request(url: str, timeout: float) -> dict[str, str]:
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise AnisetteUnavailable(f"anisette server {url} unreachable: {exc!r}") from exc
    if response.status_code != 200:
        raise AnisetteUnavailable(f"anisette server {url} answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError as exc:
        raise AnisetteUnavailable(f"anisette server {url} answered no JSON") from exc
    if not isinstance(body, dict) or any(not body.get(h) for h in REQUIRED_HEADERS):
        raise AnisetteUnavailable(f"anisette server {url} answered without {REQUIRED_HEADERS}")
    headers = {**DEFAULT_HEADERS, **{str(k): str(v) for k, v in body.items()}}
    # FindMy.py sends the locale as `loc` too; anisette-v3-server only gives X-Apple-Locale.
    headers.setdefault("loc", headers["X-Apple-Locale"])
    return headers

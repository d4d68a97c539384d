"""The optional online geocoder (geopy; Nominatim), behind a cache table and a rate limit.

Offline is the default (GEOCODER_PROVIDER=""): reverse lookups (services.city_at) answer from
the City table and addresses cannot be looked up. This module imports nothing of the services:
they call it. With GEOCODER_PROVIDER=nominatim, answers are cached in
GeocodeCache (reverse lookups keyed by coordinates rounded to GEOCODER_CACHE_DECIMALS), and
calls are spaced GEOCODER_MIN_INTERVAL_SECONDS apart across all processes through Redis, as
Nominatim's usage policy asks (one request a second).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from geopy import exc as geopy_exc
from geopy.geocoders import Nominatim

from .models import GeocodeCache

RATE_LIMIT_KEY = "geofencing:geocoder:next-slot"


class GeocodingError(Exception):
    """The geocoder could not answer. `transient` says whether trying later can help."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class ReverseResult:
    city: str
    country_code: str
    display_name: str = ""


def provider_name() -> str:
    return (settings.GEOCODER_PROVIDER or "").strip().lower()


def _geocoder() -> Nominatim:
    name = provider_name()
    if name != "nominatim":
        raise GeocodingError(f"unknown GEOCODER_PROVIDER {name!r}", transient=False)
    return Nominatim(
        user_agent=settings.GEOCODER_USER_AGENT,
        domain=settings.GEOCODER_DOMAIN,
        scheme=settings.GEOCODER_SCHEME,
        timeout=settings.GEOCODER_TIMEOUT_SECONDS,
    )


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def wait_for_slot(*, max_wait_seconds: float = 30.0) -> None:
    """Block until this process may call the provider (one call per interval, all processes)."""
    interval_ms = int(settings.GEOCODER_MIN_INTERVAL_SECONDS * 1000)
    if interval_ms <= 0:
        return
    deadline = time.monotonic() + max_wait_seconds
    client = _redis()
    while True:
        if client.set(RATE_LIMIT_KEY, "1", nx=True, px=interval_ms):
            return
        remaining_ms = client.pttl(RATE_LIMIT_KEY)
        if time.monotonic() >= deadline:
            raise GeocodingError("geocoder rate limit: no free slot", transient=True)
        time.sleep(max(remaining_ms, 10) / 1000 if remaining_ms > 0 else 0.01)


def _call(method, *args, **kwargs):
    wait_for_slot()
    try:
        return method(*args, **kwargs)
    except (geopy_exc.GeocoderTimedOut, geopy_exc.GeocoderUnavailable) as exc:
        raise GeocodingError(str(exc), transient=True) from exc
    except geopy_exc.GeocoderRateLimited as exc:
        raise GeocodingError(str(exc), transient=True) from exc
    except geopy_exc.GeocoderServiceError as exc:  # 4xx other than 429, bad answers
        raise GeocodingError(str(exc), transient=False) from exc


def _remember(**fields) -> None:
    try:
        with transaction.atomic():
            GeocodeCache.objects.create(**fields)
    except IntegrityError:
        pass  # another process cached the same answer first


def reverse_key(latitude: float, longitude: float) -> str:
    decimals = settings.GEOCODER_CACHE_DECIMALS
    return f"{round(latitude, decimals):.{decimals}f},{round(longitude, decimals):.{decimals}f}"


def reverse_geocode(*, latitude: float, longitude: float) -> ReverseResult | None:
    """City and country for a coordinate from the online geocoder (cached). Offline,
    services.city_at answers from the City table instead."""
    name = provider_name()
    if not name:
        raise GeocodingError(
            "no online geocoder is configured (GEOCODER_PROVIDER)", transient=False
        )
    key = reverse_key(latitude, longitude)
    hit = GeocodeCache.objects.filter(
        provider=name, direction=GeocodeCache.Direction.REVERSE, key=key
    ).first()
    if hit is not None:
        return ReverseResult(hit.city, hit.country_code, hit.display_name) if hit.found else None

    lat, lon = (float(part) for part in key.split(","))
    location = _call(_geocoder().reverse, (lat, lon), exactly_one=True, language="en", zoom=10)
    if location is None:
        _remember(provider=name, direction=GeocodeCache.Direction.REVERSE, key=key, found=False)
        return None
    address = location.raw.get("address", {})
    city = next(
        (address[k] for k in ("city", "town", "village", "municipality", "county") if k in address),
        "",
    )
    result = ReverseResult(
        city=city[:200],
        country_code=(address.get("country_code") or "").upper()[:2],
        display_name=(location.address or "")[:500],
    )
    _remember(
        provider=name,
        direction=GeocodeCache.Direction.REVERSE,
        key=key,
        city=result.city,
        country_code=result.country_code,
        display_name=result.display_name,
        point=Point(lon, lat, srid=4326),
    )
    return result


def forward_geocode(*, address: str) -> Point | None:
    """The point of an address typed by staff (cached); None when nothing matches."""
    name = provider_name()
    if not name:
        raise GeocodingError(
            "no online geocoder is configured (GEOCODER_PROVIDER); draw the point on the map",
            transient=False,
        )
    key = " ".join(address.lower().split())[:300]
    hit = GeocodeCache.objects.filter(
        provider=name, direction=GeocodeCache.Direction.FORWARD, key=key
    ).first()
    if hit is not None:
        return Point(hit.point.x, hit.point.y, srid=4326) if hit.found and hit.point else None

    location = _call(_geocoder().geocode, address, exactly_one=True, language="en")
    if location is None:
        _remember(provider=name, direction=GeocodeCache.Direction.FORWARD, key=key, found=False)
        return None
    point = Point(location.longitude, location.latitude, srid=4326)
    _remember(
        provider=name,
        direction=GeocodeCache.Direction.FORWARD,
        key=key,
        display_name=(location.address or "")[:500],
        point=point,
    )
    return point

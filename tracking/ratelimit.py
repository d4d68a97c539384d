"""Fixed-window request counters in the cache (Redis), shared by every web process: for pages
that answer visitors without an account (the share links' public page). The API has DRF's
throttles instead."""

from __future__ import annotations

import logging
import math
import time

from django.core.cache import cache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def hit(*, scope: str, key: str, limit: int, window_seconds: int = 60) -> int | None:
    """Count one request of `key` in `scope`. None while within `limit` per window; once over
    it, the seconds until the window ends (the Retry-After). Without Redis the request is let
    through and a warning logged: the limit guards against floods, the data is safe without it."""
    now = time.time()
    window = int(now // window_seconds)
    cache_key = f"ratelimit:{scope}:{key}:{window}"
    try:
        if cache.add(cache_key, 1, timeout=window_seconds + 1):
            count = 1
        else:
            try:
                count = cache.incr(cache_key)
            except ValueError:  # the key expired between add and incr
                cache.add(cache_key, 1, timeout=window_seconds + 1)
                count = 1
    except RedisError as exc:
        logger.warning("rate limit %s not counted, the cache is down: %s", scope, exc)
        return None
    if count > limit:
        return max(1, math.ceil((window + 1) * window_seconds - now))
    return None

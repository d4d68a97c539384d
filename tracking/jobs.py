"""How long the background jobs take, kept in Redis for /metrics.

Each finished run of a job adds to its counters (runs, seconds, failures) and sets its last
duration. These are measurements, not data: when Redis is down or flushed they start again,
and a job never fails because they could not be written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

logger = logging.getLogger(__name__)

PREFIX = "trackersite:job:"


def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


@contextmanager
def timed_job(name: str) -> Iterator[None]:
    """Measure the block as one run of job `name` (a failure is counted too, then re-raised)."""
    started = time.perf_counter()
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        seconds = time.perf_counter() - started
        try:
            pipe = _redis().pipeline()
            key = PREFIX + name
            pipe.hincrby(key, "runs", 1)
            pipe.hincrbyfloat(key, "seconds", seconds)
            pipe.hset(key, "last_seconds", repr(seconds))
            if failed:
                pipe.hincrby(key, "failures", 1)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("job %s: duration not recorded (%s)", name, exc)


def job_durations() -> dict[str, dict[str, float]]:
    """{job: {"runs", "seconds", "last_seconds", "failures"}} for every job that ran."""
    client = _redis()
    found = {}
    for key in client.scan_iter(match=PREFIX + "*", count=100):
        values = client.hgetall(key)
        name = key.decode()[len(PREFIX) :]
        found[name] = {
            field: float(values.get(field.encode(), 0))
            for field in ("runs", "seconds", "last_seconds", "failures")
        }
    return found

"""`/healthz`: is this process able to do its work? 503 when a dependency is down."""

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _postgis_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT postgis_lib_version()")
        return cursor.fetchone()[0]


def _redis_ok() -> bool:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    finally:
        client.close()


@never_cache
@require_GET
def healthz(request):
    body = {"version": settings.APP_VERSION, "postgis": None, "redis": False}
    errors = []
    try:
        body["postgis"] = _postgis_version()
    except Exception as exc:  # any database failure means "not healthy"
        errors.append(f"database: {type(exc).__name__}")
    try:
        body["redis"] = _redis_ok()
    except redis.RedisError as exc:
        errors.append(f"redis: {type(exc).__name__}")
    body["status"] = "ok" if not errors else "unavailable"
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=200 if not errors else 503)

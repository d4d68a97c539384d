"""Tests: real PostGIS and Redis, fast password hashing, a test database of its own."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

DEBUG = False
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "test-media"))
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_trackersite")}
DATABASES["default"]["CONN_MAX_AGE"] = 0
# Network calls in tests go only to servers the tests start on 127.0.0.1.
# Processes a test starts (a Celery worker in a drill) may set them through the environment.
FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS = env.float("FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS", default=0.0)
FINDMY_HTTP_TIMEOUT_SECONDS = env.float("FINDMY_HTTP_TIMEOUT_SECONDS", default=5.0)
# Tests queue delivery runs themselves, on a broker database and queue of their own.
WEBHOOK_DISPATCH_ON_COMMIT = False
WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the receivers run on 127.0.0.1
ALERTS_FAN_OUT_ON_COMMIT = False  # tests run the fan-out themselves
# pytest-django collects e-mails in django.core.mail.outbox; a worker a test starts may
# write them to files instead (EMAIL_BACKEND and EMAIL_FILE_PATH from its environment).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default="")

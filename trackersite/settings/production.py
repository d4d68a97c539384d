"""Production: every secret must come from the environment; `check --deploy` passes."""

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import MIDDLEWARE, env, env_bool

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY")
SECRETS_ENCRYPTION_KEY = env.str("SECRETS_ENCRYPTION_KEY")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
REDIS_URL = env.str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]  # scraped inside the network
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# The app serves its own static files (admin, portal, Leaflet): WhiteNoise right after the
# security middleware, from STATIC_ROOT as collectstatic left it, compressed and with hashed
# names that can be cached for ever.
MIDDLEWARE = [
    *MIDDLEWARE[:1],
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[1:],
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

for _name in ("SECRET_KEY", "SECRETS_ENCRYPTION_KEY"):
    if not globals()[_name].strip():
        raise ImproperlyConfigured(f"Set the environment variable {_name} (it is empty)")
# Every process refuses a key that cannot encrypt (gunicorn and Celery run no system checks).
for _key in (SECRETS_ENCRYPTION_KEY, *env.list("SECRETS_ENCRYPTION_OLD_KEYS", default=[])):
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEY (or one of SECRETS_ENCRYPTION_OLD_KEYS) is not a Fernet key "
            "(urlsafe base64 of 32 bytes)"
        ) from None

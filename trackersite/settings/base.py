"""Settings shared by every environment. Values come from the environment (django-environ).

Development and test settings give safe defaults; production.py removes the defaults for
secrets, so a missing secret stops the process instead of running with a guess.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool) -> bool:
    """A boolean from the environment; anything but a clear yes/no is an error, not False."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no)")


# A development-only default: never used in production (production.py has no default).
DEV_SECRETS_ENCRYPTION_KEY = "ZGV2LW9ubHkta2V5LW5ldmVyLWluLXByb2R1Y3Rpb24="

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY", default="dev-insecure-secret-key-change-me")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Fernet key (urlsafe base64 of 32 bytes) for private keys and Apple sessions at rest.
# SECRETS_ENCRYPTION_OLD_KEYS still decrypt; `manage.py rotate_encryption_key` moves
# every secret to SECRETS_ENCRYPTION_KEY.
SECRETS_ENCRYPTION_KEY = env.str("SECRETS_ENCRYPTION_KEY", default=DEV_SECRETS_ENCRYPTION_KEY)
SECRETS_ENCRYPTION_OLD_KEYS = env.list("SECRETS_ENCRYPTION_OLD_KEYS", default=[])

APP_VERSION = env.str("APP_VERSION", default="0.1.0")
# /metrics (Prometheus text format) answers only `Authorization: Bearer METRICS_TOKEN`;
# unset, the endpoint does not exist.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

INSTALLED_APPS = [
    "trackersite.admin_config.OperatorAdminConfig",  # django.contrib.admin, dashboard as index
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "leaflet",
    "axes",
    "csp",
    "tracking",
    "fleet",
    "findmy",
    "geofencing",
    "trackersite",
]

MIDDLEWARE = [
    "trackersite.requestid.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The person's timezone for every time on the page (their profile's, else TIME_ZONE).
    "tracking.timezones.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during login into the answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "trackersite.urls"
WSGI_APPLICATION = "trackersite.wsgi.application"
ASGI_APPLICATION = "trackersite.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "tracking.alerts.unread_notifications",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default="postgis://postgres@127.0.0.1:5432/trackersite"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes) for the portal, admin and API token logins: after
# LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that pair is locked
# for LOGIN_LOCKOUT_MINUTES (each further try restarts the wait). Staff unlock earlier with
# `manage.py axes_reset_username NAME` (or axes_reset_ip ADDRESS, axes_reset for everyone).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "trackersite.lockout.lockout_response"
# Behind LOGIN_PROXY_COUNT proxies the client address comes from X-Forwarded-For (through
# django-ipware); without a proxy that header is the client's own word and is ignored.
if env.int("LOGIN_PROXY_COUNT", default=0):
    AXES_IPWARE_PROXY_COUNT = env.int("LOGIN_PROXY_COUNT")
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
# Dates as 2026-12-04 and times with their timezone (trackersite/formats/en/formats.py).
FORMAT_MODULE_PATH = ["trackersite.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Uploaded files (MAC lists, sessions) are refused above UPLOAD_MAX_BYTES with a message that
# says so; a posted form (pasted text) above DATA_UPLOAD_MAX_MEMORY_SIZE gets a 400 page that
# explains (trackersite.errors).
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=10_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("FORM_MAX_BYTES", default=2_500_000)

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
# Files staff upload (brands' logos, under brands/): public by design (a share link's page shows
# the logo), served by the app under MEDIA_URL (trackersite/media.py). Several web servers
# need one MEDIA_ROOT they share (a volume), or another storage backend in STORAGES.
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))

# --- Redis and Celery -------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# A fetch round stops by itself after FINDMY_ROUND_SECONDS plus one request (at most
# (FINDMY_EMPTY_RESPONSE_RETRIES + 1) x 2 x FINDMY_HTTP_TIMEOUT_SECONDS = 240 s by default), so
# the soft limit only ends a task that is stuck; the hard limit kills the worker process if the
# task ignores the soft one. Claims held by a killed task come back after their lease.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)

# --- REST API ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "tracking.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "tracking.api.pagination.PagePagination",
    "DEFAULT_THROTTLE_CLASSES": ["tracking.authentication.PartnerRateThrottle"],
    # One budget per user and one per API key; 429 answers carry Retry-After.
    "DEFAULT_THROTTLE_RATES": {"partner": env.str("API_THROTTLE_RATE", default="600/min")},
    "DEFAULT_SCHEMA_CLASS": "trackersite.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "trackersite.problems.exception_handler",
}
API_MAX_PAGE_SIZE = 500
# An API key's last use is written at most this often (a write per request would cost more
# than most requests).
API_KEY_LAST_USED_RESOLUTION_SECONDS = env.int("API_KEY_LAST_USED_RESOLUTION_SECONDS", default=60)
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a hash of the password hash: a new password invalidates them.
    "CHECK_REVOKE_TOKEN": True,
    "UPDATE_LAST_LOGIN": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tracker platform partner API",
    "DESCRIPTION": (
        "Read your clients' trackers, their locations and status history; manage places and "
        "webhooks. Authenticate with a JWT (`Authorization: Bearer ...`, from /api/v1/token/) "
        "or an API key (`Authorization: Api-Key ...`, made by a client admin in the portal). "
        "Errors are RFC 9457 problem details (application/problem+json)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "TrackerStatusEnum": "tracking.models.Tracker.Status",
        "RoleEnum": "tracking.models.Membership.Role",
        "EventTypeEnum": "tracking.models.Event.Type",
        "GeoJSONFeatureTypeEnum": ["Feature"],
        "GeoJSONFeatureCollectionTypeEnum": ["FeatureCollection"],
        "GeoJSONPointTypeEnum": ["Point"],
        "GeoJSONPolygonTypeEnum": ["Polygon"],
    },
}

# --- Cache (the API's throttle counters; shared by every web process) --------------------
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("CACHE_URL", default=REDIS_URL),
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default=DATABASES["default"]["NAME"]),
    }
}

# Sessions are read from the cache (Redis) and written through to the database: a page no
# longer spends a query on the login it carries, and a cache flush loses no one's login.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# --- Share links -------------------------------------------------------------------------
# A link lasts at most SHARE_LINK_MAX_DAYS (or until its run ends). Its public page answers
# each client address at most SHARE_LINK_RATE_PER_IP times a minute and each link at most
# SHARE_LINK_RATE_PER_LINK times a minute (a receiver's whole team may open it), counted in
# the cache (Redis), so every web process shares the budget.
SHARE_LINK_MAX_DAYS = env.int("SHARE_LINK_MAX_DAYS", default=365)
SHARE_LINK_RATE_PER_IP = env.int("SHARE_LINK_RATE_PER_IP", default=60)
SHARE_LINK_RATE_PER_LINK = env.int("SHARE_LINK_RATE_PER_LINK", default=300)

# --- Accounts ---------------------------------------------------------------------------
# The password reset form e-mails an address at most PASSWORD_RESET_RATE_PER_ADDRESS times
# and answers one client address PASSWORD_RESET_RATE_PER_IP times an hour: nobody can flood
# an inbox through it. Over either, it says the same as always and sends nothing.
PASSWORD_RESET_RATE_PER_ADDRESS = env.int("PASSWORD_RESET_RATE_PER_ADDRESS", default=3)
PASSWORD_RESET_RATE_PER_IP = env.int("PASSWORD_RESET_RATE_PER_IP", default=20)

# --- Webhooks ---------------------------------------------------------------------------
# A failed delivery is tried again after base * 2**(attempts - 1) seconds (at most the max),
# until WEBHOOK_RETRY_HOURS after its first attempt; then it is FAILED and its endpoint is
# marked failing.
WEBHOOK_BACKOFF_BASE_SECONDS = env.float("WEBHOOK_BACKOFF_BASE_SECONDS", default=30.0)
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=3600.0)
WEBHOOK_RETRY_HOURS = env.float("WEBHOOK_RETRY_HOURS", default=25.0)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# A claimed delivery is due again after this long, so a worker killed mid-delivery loses
# nothing; it must be longer than the timeout.
WEBHOOK_LEASE_SECONDS = env.float("WEBHOOK_LEASE_SECONDS", default=60.0)
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=100)
# Deliveries to loopback, private or link-local addresses are refused (a partner's URL must
# not reach the platform's own network); development and tests allow them.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)
# Queue a delivery run when events commit (the beat schedule is the safety net).
WEBHOOK_DISPATCH_ON_COMMIT = env_bool("WEBHOOK_DISPATCH_ON_COMMIT", True)

# --- Customer alerts (tracking/alerts.py) -------------------------------------------------
# Links in alert e-mails are absolute: SITE_URL is the portal's address as people reach it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# A tracker flapping at a place's edge alerts once per this period per (tracker, event type,
# person); the alerts in between are kept (debounced) but neither listed nor e-mailed.
ALERTS_DEBOUNCE_MINUTES = env.float("ALERTS_DEBOUNCE_MINUTES", default=30.0)
# An e-mail lists this many alerts, then "and N more".
ALERTS_EMAIL_MAX_LISTED = env.int("ALERTS_EMAIL_MAX_LISTED", default=50)
# A claimed e-mail is the worker's for this long; see AlertEmail for what happens after.
ALERTS_EMAIL_LEASE_SECONDS = env.float("ALERTS_EMAIL_LEASE_SECONDS", default=120.0)
# Events per fan-out transaction.
ALERTS_FAN_OUT_BATCH = env.int("ALERTS_FAN_OUT_BATCH", default=20_000)
# Queue a fan-out when events commit (the beat schedule, every minute, is the safety net).
ALERTS_FAN_OUT_ON_COMMIT = env_bool("ALERTS_FAN_OUT_ON_COMMIT", True)
# Staff are alerted when every fetch has failed for this long.
ALERTS_FETCH_FAILING_MINUTES = env.float("ALERTS_FETCH_FAILING_MINUTES", default=30.0)

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# Scripts only from our own origin or inline with this response's nonce ({{ CSP_NONCE }} in
# templates, csp_nonce=request.csp_nonce for {% leaflet_map %}). Styles may be inline: Leaflet,
# Chart.js and Django admin set style attributes. Images may come from the map tile servers.
CSP_TILE_HOSTS = env.list("CSP_TILE_HOSTS", default=["https://tile.openstreetmap.org"])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:", *CSP_TILE_HOSTS],
        "font-src": [SELF, "data:"],
        "worker-src": [SELF, "blob:"],  # ReDoc searches in a worker it builds from a blob
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Maps -------------------------------------------------------------------------------
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (48.2, 16.37),
    "DEFAULT_ZOOM": 5,
    "MIN_ZOOM": 2,
    "MAX_ZOOM": 18,
    "RESET_VIEW": False,
    # Always https (a protocol-relative URL would ask over http from an http page, which the
    # Content-Security-Policy's img-src refuses). MAP_TILES_URL points at another tile server.
    "TILES": [
        (
            "OpenStreetMap",
            env.str("MAP_TILES_URL", default="https://tile.openstreetmap.org/{z}/{x}/{y}.png"),
            {"attribution": "&copy; OpenStreetMap contributors", "maxZoom": 19},
        )
    ],
}
# Maps of many trackers (dashboard, run page) fetch their positions from a scoped GeoJSON
# endpoint this often, without reloading the page.
PORTAL_MAP_REFRESH_SECONDS = env.int("PORTAL_MAP_REFRESH_SECONDS", default=60)

# --- FindMy -----------------------------------------------------------------------------
FINDMY_FETCH_URL = env.str(
    "FINDMY_FETCH_URL", default="https://gateway.icloud.com/findmyservice/v2/fetch"
)
FINDMY_FETCH_PROTOCOL = env.str("FINDMY_FETCH_PROTOCOL", default="v2")  # v2 | legacy
ANISETTE_URL = env.str("ANISETTE_URL", default="http://127.0.0.1:6969/")
# Apple's login: GSA (SRP-6a and the second factor) and iCloud's loginDelegates.
APPLE_GSA_URL = env.str("APPLE_GSA_URL", default="https://gsa.apple.com")
APPLE_SETUP_URL = env.str("APPLE_SETUP_URL", default="https://setup.icloud.com")
# A login waiting for its second factor is forgotten after this many minutes.
FINDMY_LOGIN_STATE_MINUTES = 10
FINDMY_FETCH_INTERVAL_MINUTES = env.float("FINDMY_FETCH_INTERVAL_MINUTES", default=30.0)
FINDMY_MAX_BACKOFF_HOURS = env.float("FINDMY_MAX_BACKOFF_HOURS", default=8.0)
FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS = env.float("FINDMY_ACCOUNT_MIN_INTERVAL_SECONDS", default=10.0)
FINDMY_IDS_PER_REQUEST = env.int("FINDMY_IDS_PER_REQUEST", default=20)
FINDMY_ENTRIES_PER_REQUEST = env.int("FINDMY_ENTRIES_PER_REQUEST", default=20)
FINDMY_HTTP_TIMEOUT_SECONDS = env.float("FINDMY_HTTP_TIMEOUT_SECONDS", default=30.0)
FINDMY_EMPTY_RESPONSE_RETRIES = env.int("FINDMY_EMPTY_RESPONSE_RETRIES", default=3)
# The client reads at most this much of an answer. 20 keys x 200 reports (Apple's trim per key)
# is under 1 MB in either protocol, so 16 MB only stops a broken or hostile server.
FINDMY_MAX_RESPONSE_BYTES = env.int("FINDMY_MAX_RESPONSE_BYTES", default=16 * 1024 * 1024)
FINDMY_CLAIM_LEASE_SECONDS = env.int("FINDMY_CLAIM_LEASE_SECONDS", default=300)
FINDMY_HISTORY_DAYS = 7
# The simulator's routes between a run's places (findmy.simulator.RunRoutes), wired here
# because findmy does not import geofencing.
FINDMY_SIMULATOR_ROUTES = "trackersite.simulator_routes.run_place_routes"
# A finder may upload a report hours after it observed it. Each fetch reaches back this far
# before the tracker's newest report, so a report published up to (this - the fetch interval)
# late is still collected; the payload hash keeps the overlap from being stored twice.
# 6 h covers uploads up to 5.5 h late at the default 30-minute interval and costs each fetch
# at most 6 h of already-stored reports per tracker (the late-report drill measures both).
FINDMY_LATE_REPORT_HOURS = env.float("FINDMY_LATE_REPORT_HOURS", default=6.0)
# Apple has been seen cutting an answer for several keys at 20 to 40 reports. An answer with
# reports for fewer keys than asked and a report count in this range looks cut: its keys
# without reports are not misses, they are asked again (with the key the cut may have split)
# in requests of at most FINDMY_REASK_IDS_PER_REQUEST keys, each through the account's rate
# limit. 5 keys at the ~2 reports a key has in a 30-minute window stay under the cut.
FINDMY_CUT_ANSWER_MIN_REPORTS = env.int("FINDMY_CUT_ANSWER_MIN_REPORTS", default=20)
FINDMY_CUT_ANSWER_MAX_REPORTS = env.int("FINDMY_CUT_ANSWER_MAX_REPORTS", default=40)
FINDMY_REASK_IDS_PER_REQUEST = env.int("FINDMY_REASK_IDS_PER_REQUEST", default=5)
# An account that failed waits base * 2**(consecutive errors - 1) seconds, at most the max.
FINDMY_ACCOUNT_BACKOFF_BASE_SECONDS = env.float("FINDMY_ACCOUNT_BACKOFF_BASE_SECONDS", default=60.0)
FINDMY_ACCOUNT_MAX_BACKOFF_SECONDS = env.float("FINDMY_ACCOUNT_MAX_BACKOFF_SECONDS", default=3600.0)
FINDMY_ANISETTE_CACHE_SECONDS = env.float("FINDMY_ANISETTE_CACHE_SECONDS", default=30.0)
# One fetch_due round stops after this many requests or seconds (beat starts one a minute).
FINDMY_MAX_REQUESTS_PER_ROUND = env.int("FINDMY_MAX_REQUESTS_PER_ROUND", default=100)
FINDMY_ROUND_SECONDS = env.float("FINDMY_ROUND_SECONDS", default=50.0)

# --- Geofencing -------------------------------------------------------------------------
GEOFENCING_MAX_ACCURACY_M = env.float("GEOFENCING_MAX_ACCURACY_M", default=250.0)
GEOFENCING_DEPARTURE_REPORTS = env.int("GEOFENCING_DEPARTURE_REPORTS", default=2)
GEOCODER_PROVIDER = env.str("GEOCODER_PROVIDER", default="")  # "" (offline only) | nominatim
GEOCODER_USER_AGENT = env.str("GEOCODER_USER_AGENT", default="trackersite")
GEOCODER_MIN_INTERVAL_SECONDS = env.float("GEOCODER_MIN_INTERVAL_SECONDS", default=1.0)
# Debounce: leaving a place needs GEOFENCING_DEPARTURE_REPORTS consecutive accurate reports
# outside it, or (when > 0) outside reports spanning GEOFENCING_DEPARTURE_MINUTES; arrivals
# count at once. Two reports: one stray fix from a passing phone does not end a visit.
GEOFENCING_DEPARTURE_MINUTES = env.float("GEOFENCING_DEPARTURE_MINUTES", default=0.0)
# The tracker page draws a range's path in at most about this many points: raw reports
# while they fit, else hourly then daily roll-ups for the older part (geofencing.selectors).
GEOFENCING_HISTORY_POINT_BUDGET = env.int("GEOFENCING_HISTORY_POINT_BUDGET", default=2000)
# The longest custom range the tracker page accepts, in days.
GEOFENCING_HISTORY_MAX_DAYS = env.int("GEOFENCING_HISTORY_MAX_DAYS", default=1096)
# Online geocoder (geopy) details; the cache keys reverse lookups by coordinates rounded to
# GEOCODER_CACHE_DECIMALS (3 decimals: about 100 m).
GEOCODER_DOMAIN = env.str("GEOCODER_DOMAIN", default="nominatim.openstreetmap.org")
GEOCODER_SCHEME = env.str("GEOCODER_SCHEME", default="https")
GEOCODER_TIMEOUT_SECONDS = env.float("GEOCODER_TIMEOUT_SECONDS", default=10.0)
GEOCODER_CACHE_DECIMALS = env.int("GEOCODER_CACHE_DECIMALS", default=3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "trackersite.requestid.RequestIdLogFilter"},
        "secret_paths": {"()": "trackersite.requestid.SecretPathLogFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id", "secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes says INFO for every failed login and at every start; lockouts are WARNING.
    "loggers": {
        "axes": {"level": "WARNING"},
        # The development server's request lines, through the handler that masks tokens.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# Debian 12 ships GDAL 3.6; the project never opens spatial files or URLs through GDAL
# (geometries arrive as numbers), so the warning about GDAL's file and network access is moot.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]

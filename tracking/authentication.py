"""Who is calling the partner API: people with JWTs, systems with API keys.

An API key authenticates as an ApiKeyUser: not a Django user, but it answers the questions
the scoping rule asks (TenantQuerySet.visible_to / administered_by read `api_key`), so every
viewset, selector and permission treats it like a member of its one client.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from .models import ApiKey
from .services import API_KEY_PREFIX, api_key_hash, api_key_touch


class ApiKeyUser:
    """The principal of a request made with an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    @property
    def username(self) -> str:
        return f"api-key:{self.api_key.prefix}"

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key tpk_<prefix>_<secret>`."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        secret = secret.strip()
        prefix = secret[len(API_KEY_PREFIX) :].split("_", 1)[0]
        if not secret.startswith(API_KEY_PREFIX) or not prefix:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        key = (
            ApiKey.objects.select_related("client")
            .filter(prefix=prefix, revoked_at__isnull=True)
            .first()
        )
        if key is None or not hmac.compare_digest(key.secret_hash, api_key_hash(secret)):
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        api_key_touch(
            key=key, at=timezone.now(), every_seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS
        )
        return ApiKeyUser(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "tracking.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`: a key a client admin made in the portal.",
        }


class PartnerRateThrottle(throttling.SimpleRateThrottle):
    """One budget per API key and one per user (anonymous callers by address)."""

    scope = "partner"

    def get_cache_key(self, request, view):
        user = request.user
        if isinstance(user, ApiKeyUser):
            ident = f"key:{user.api_key.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user:{user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return f"throttle:{self.scope}:{ident}"

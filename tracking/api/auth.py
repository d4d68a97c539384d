"""JWT token endpoints for people: short access tokens, refresh tokens that rotate (the used
one is blacklisted). Revocation on password change and deactivation: tracking/tokens.py.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework import exceptions
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenRefreshView


class _RefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs):
        try:
            return super().validate(attrs)
        except get_user_model().DoesNotExist:
            raise exceptions.AuthenticationFailed("No active account for this token.") from None


class RevocableTokenRefreshView(TokenRefreshView):
    """Exchange a refresh token for a new access token and a new refresh token; the one sent
    is blacklisted and cannot be used again."""

    serializer_class = _RefreshSerializer

"""The answer to a login attempt while its username and address are locked out (django-axes).

One rule for the portal, admin and API logins: 429 Too Many Requests with Retry-After, a page
that says how long to wait and how an operator unlocks the account, or, for the API, a
problem-details JSON body.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from rest_framework_simplejwt.views import TokenObtainPairView

from .problems import PROBLEM_CONTENT_TYPE, problem


def _minutes() -> int:
    return max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    retry_after = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    detail = (
        f"Too many failed logins for this account from your address. Try again in "
        f"{_minutes()} minutes, or ask an operator to unlock it."
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {**problem(request, 429, detail), "title": "Too many failed logins"},
            status=429,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    else:
        response = render(
            request,
            "registration/locked_out.html",
            {"detail": detail, "minutes": _minutes()},
            status=429,
        )
    response["Retry-After"] = retry_after
    return response


class LockoutAwareTokenObtainPairView(TokenObtainPairView):
    """simplejwt's login, with django-axes' lockout seen by its middleware.

    The backend flags a lockout on the request it was given, which for DRF is the wrapper
    around Django's request; the middleware only sees Django's request, so the flag is copied.
    """

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        finally:
            for name in ("axes_locked_out", "axes_credentials"):
                if name in request.__dict__:
                    setattr(request._request, name, request.__dict__[name])

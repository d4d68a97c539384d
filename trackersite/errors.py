"""Error pages that say what went wrong: a request too large for the form it was sent to."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _megabytes(size: int | None) -> str:
    return f"{(size or 0) / 1_000_000:g} MB"


def _explain(exception) -> str:
    if isinstance(exception, RequestDataTooBig):
        return (
            f"The form sent is larger than {_megabytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)}. "
            f"Upload long lists as a file instead (up to "
            f"{_megabytes(settings.UPLOAD_MAX_BYTES)}), or split them."
        )
    if isinstance(exception, TooManyFieldsSent):
        return "The form sent has too many fields."
    return "The request could not be understood."


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    detail = _explain(exception)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"type": "about:blank", "title": "Bad request", "status": 400, "detail": detail},
            status=400,
            content_type="application/problem+json",
        )
    return render(request, "400.html", {"detail": detail}, status=400)

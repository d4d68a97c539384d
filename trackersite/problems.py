"""One error format for the API: RFC 9457 problem details, with the request id.

Every 4xx and 5xx under /api/ is `application/problem+json`:
    {"type", "title", "status", "detail", "instance", "request_id", "errors": [...]}
`errors` lists what was wrong, each naming its field (body) or parameter (query string).
DRF's errors go through `exception_handler`; Django's own 404 and 500 (unknown URL, an
exception outside DRF) through `not_found` / `server_error`, which keep the HTML pages for
the portal.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from tracking.api.errors import QueryParameterError

from .requestid import request_id_var

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://trackers.invalid/problems/"

TITLES = {
    400: ("invalid-request", "Invalid request"),
    401: ("not-authenticated", "Not authenticated"),
    403: ("permission-denied", "Permission denied"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("throttled", "Too many requests"),
    500: ("server-error", "Server error"),
}


def problem(
    request, status_code: int, detail: str, errors: list[dict] | None = None
) -> dict[str, object]:
    slug, title = TITLES.get(status_code, ("error", "Error"))
    body: dict[str, object] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status_code,
        "detail": detail,
        "instance": request.path if request is not None else "",
        "request_id": request_id_var.get(),
    }
    if errors:
        body["errors"] = errors
    return body


def _flatten(detail, where: str, prefix: str = "") -> list[dict]:
    """DRF's nested error detail as a flat list of {where: "a.b.0", "message", "code"}."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            out += _flatten(value, where, f"{prefix}.{name}" if prefix and name else prefix or name)
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out += _flatten(value, where, f"{prefix}.{index}" if prefix else str(index))
            else:
                out += _flatten(value, where, prefix)
        return out
    entry = {"message": str(detail), "code": getattr(detail, "code", "invalid")}
    if prefix:
        entry[where] = prefix
    return [entry]


def exception_handler(exc, context):
    """DRF's handler, then the body rewritten as a problem. Django's ValidationError and
    PermissionDenied from services become 400 and 403 with their field names."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a 500: Django's handler500 (server_error below) answers
    request = context.get("request")
    errors = None
    if isinstance(exc, exceptions.ValidationError):
        where = "parameter" if isinstance(exc, QueryParameterError) else "field"
        errors = _flatten(exc.detail, where)
        names = sorted({e[where] for e in errors if where in e})
        detail = f"Invalid {where}s: {', '.join(names)}." if names else errors[0]["message"]
    else:
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else str(exc)
    response.data = problem(request, response.status_code, detail, errors)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def _problem_response(request, status_code: int, detail: str) -> JsonResponse:
    return JsonResponse(
        problem(request, status_code, detail),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def not_found(request, exception=None):
    if _is_api(request):
        return _problem_response(request, 404, "No such endpoint or object.")
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return _problem_response(
            request,
            500,
            f"Something went wrong on our side; quote request id {request_id_var.get()}.",
        )
    return defaults.server_error(request)

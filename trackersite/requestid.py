"""Request ids: taken from the caller's X-Request-ID when sane, otherwise made; echoed in the
response and written in every log line of the request. No DRF import here: the logging
configuration loads this module while settings are still being read."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.core.signals import request_finished

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdMiddleware:
    """Sets the request id for the request and echoes it in the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        # Not reset on the way out: Django logs the response ("Not Found: ...") after the
        # middleware chain has returned. The next request sets its own; request_finished
        # (connected below) puts the placeholder back.
        request_id_var.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


def _forget_request_id(**kwargs) -> None:
    request_id_var.set("-")


request_finished.connect(_forget_request_id, dispatch_uid="forget-request-id")


# Secrets that stand in paths, which Django writes in its log lines ("Not Found: /s/...", the
# development server's request line): a share link's token (/s/<token>/), an invitation's
# (/invitations/<token>/) and a password reset's (/accounts/reset/<uid>/<token>/).
_SECRET_PATHS = (
    ("/s/", re.compile(r"/s/[^/\s\"'?#&]+"), "/s/[token]"),
    ("/invitations/", re.compile(r"/invitations/[^/\s\"'?#&]{20,}"), "/invitations/[token]"),
    (
        "/accounts/reset/",
        re.compile(r"/accounts/reset/[^/\s\"'?#&]+/[^/\s\"'?#&]+"),
        "/accounts/reset/[token]",
    ),
)


class SecretPathLogFilter(logging.Filter):
    """Masks the tokens of share links, invitations and password resets in every log line:
    /s/<token>/ becomes /s/[token]/, and so on."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = message
        for marker, pattern, replacement in _SECRET_PATHS:
            if marker in masked:
                masked = pattern.sub(replacement, masked)
        if masked != message:
            record.msg, record.args = masked, ()
        return True

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


# A share link's token is its whole secret, and it stands in the path (/s/<token>/), which
# Django writes in its log lines ("Not Found: /s/...", the development server's request line).
_SHARE_PATH = re.compile(r"/s/[^/\s\"'?#]+")


class SecretPathLogFilter(logging.Filter):
    """Masks share-link tokens in every log line: /s/<token>/ becomes /s/[token]/."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/s/" in message:
            masked = _SHARE_PATH.sub("/s/[token]", message)
            if masked != message:
                record.msg, record.args = masked, ()
        return True

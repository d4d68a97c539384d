"""Pages of the partner API: sizes capped, and a bad limit, offset or cursor is a 400.

Kept apart from base.py: DRF imports the default pagination class while its own views
module loads, so this module must not import viewsets."""

from __future__ import annotations

from django.conf import settings
from rest_framework import exceptions, pagination

from .errors import QueryParameterError


def _whole_number(request, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise QueryParameterError({name: [f"Must be a whole number from {low} to {high}."]})
    return int(raw)


class PagePagination(pagination.LimitOffsetPagination):
    """limit/offset pages; the page size is capped, and a bad limit or offset is a 400."""

    default_limit = 50
    max_limit = 500
    max_offset = 10_000_000

    def get_limit(self, request):
        limit = getattr(settings, "API_MAX_PAGE_SIZE", self.max_limit)
        return _whole_number(request, "limit", default=self.default_limit, low=1, high=limit)

    def get_offset(self, request):
        return _whole_number(request, "offset", default=0, low=0, high=self.max_offset)

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        bounds = {
            "limit": (1, getattr(settings, "API_MAX_PAGE_SIZE", self.max_limit)),
            "offset": (0, self.max_offset),
        }
        for param in params:
            low, high = bounds[param["name"]]
            param["schema"].update({"minimum": low, "maximum": high})
        return params


class TimeCursorPagination(pagination.CursorPagination):
    """Cursor pages for long time series: stable while new rows arrive, constant cost at any
    depth. `ordering` is set by the view."""

    page_size = 100
    max_page_size = 1000
    page_size_query_param = "limit"
    cursor_query_param = "cursor"

    def get_page_size(self, request):
        return _whole_number(
            request, "limit", default=self.page_size, low=1, high=self.max_page_size
        )

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise QueryParameterError({"cursor": ["Not a cursor from a previous page."]}) from None

    def get_schema_operation_parameters(self, view):
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] == "limit":
                param["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return params

"""Errors the partner API raises beyond DRF's own (the response shape: trackersite.problems)."""

from rest_framework import exceptions


class QueryParameterError(exceptions.ValidationError):
    """A 400 about the query string: its errors name parameters, not body fields."""

"""The OpenAPI schema's error responses: every operation documents the problem details it
can answer (400 when it takes parameters or a body, 401, 403 for writes, 404 for one
object, 406, 429 with Retry-After), with the one Problem shape."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from .problems import PROBLEM_CONTENT_TYPE


class ProblemErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    code = serializers.CharField()
    field = serializers.CharField(required=False, help_text="The body field, dotted for nesting.")
    parameter = serializers.CharField(required=False, help_text="The query parameter.")


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField()
    request_id = serializers.CharField(help_text="Also in the X-Request-ID header and our logs.")
    errors = ProblemErrorSerializer(many=True, required=False)


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


class ProblemAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors = {}
        has_input = bool(self._get_parameters()) or self.method in ("POST", "PUT", "PATCH")
        if has_input or self._get_paginator() is not None:
            errors["400"] = _problem("Invalid parameters or body; `errors` names each one.")
        errors["401"] = _problem("No valid credentials.")
        if self.get_auth() and self.method not in ("GET", "HEAD"):
            errors["403"] = _problem("Allowed to read, not to change.")
        errors["429"] = _problem("Too many requests; retry after Retry-After seconds.")
        if "{" in self.path:
            errors["404"] = _problem("No such object among the caller's clients.")
        errors["406"] = _problem("No acceptable representation for the Accept header.")
        for code, response in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    response, code, media_types=[PROBLEM_CONTENT_TYPE], direction=direction
                )
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction) or {}
        headers["X-Request-ID"] = {
            "schema": {"type": "string"},
            "description": "The request's id (the caller's X-Request-ID when sane).",
        }
        if str(status_code) == "429":
            headers["Retry-After"] = {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds to wait before the next request.",
            }
        return headers

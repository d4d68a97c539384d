"""Schemathesis against the served OpenAPI schema: generated requests to every operation, as a
client admin, must get no server error and answers that match the schema (status codes,
content types, headers and bodies). Examples per operation are bounded so the run takes a
minute or two."""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.specs.openapi.checks import positive_data_acceptance

MAX_EXAMPLES = 8


# Loading the schema needs no database: it is served to anonymous callers.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture
def in_transaction(world):
    """In-process WSGI calls inside the test's transaction: keep Django from closing the
    connection around each request, as its own test client does."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    try:
        yield
    finally:
        for signal in (signals.request_started, signals.request_finished):
            signal.connect(close_old_connections)


@pytest.fixture
def bearer(world) -> str:
    return f"Bearer {RefreshToken.for_user(world.a_admin).access_token}"


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case, bearer, in_transaction):
    # Schema-valid is not always acceptable: a run or client id that does not exist (or is
    # another client's) is refused with a 400 naming the field, which no schema can express.
    case.call_and_validate(
        headers={"Authorization": bearer}, excluded_checks=[positive_data_acceptance]
    )

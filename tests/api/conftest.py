"""Partner API fixtures: a DRF test client per persona, by JWT or by API key."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tracking import services


def jwt_pair(username: str, password: str = "pass-for-tests") -> dict:
    response = APIClient().post(
        reverse("api:token-obtain"), {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def api(world):
    """api("alice") -> an APIClient with alice's JWT; api(key="a_viewer") with an API key of
    client A and that role."""

    def make(username: str | None = None, *, key: str | None = None) -> APIClient:
        client = APIClient()
        if key is not None:
            letter, role = key.split("_")
            owner = world.client_a if letter == "a" else world.client_b
            admin = world.a_admin if letter == "a" else world.b_admin
            issued = services.api_key_create(user=admin, client=owner, name=key, role=role.upper())
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
            client.api_key = issued.key
        else:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair(username)['access']}")
        return client

    return make

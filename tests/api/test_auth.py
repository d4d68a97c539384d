"""Who may call: JWTs that rotate and are revoked, API keys stored as hashes only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tracking import services
from tracking.models import ApiKey, AuditEvent

from .conftest import jwt_pair


def _refresh(refresh: str):
    return APIClient().post(reverse("api:token-refresh"), {"refresh": refresh}, format="json")


def _me(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/me/").status_code


def test_refresh_rotates_and_the_used_token_is_blacklisted(world):
    pair = jwt_pair("alice")
    rotated = _refresh(pair["refresh"])
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != pair["refresh"]
    assert _me(rotated.json()["access"]) == 200
    replay = _refresh(pair["refresh"])
    assert replay.status_code == 401
    assert replay["Content-Type"] == "application/problem+json"
    assert _refresh(rotated.json()["refresh"]).status_code == 200


def test_password_change_revokes_access_and_refresh_tokens(world):
    pair = jwt_pair("alice")
    assert _me(pair["access"]) == 200
    world.a_admin.set_password("a-new-long-password")
    world.a_admin.save()
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]).status_code == 401
    fresh = jwt_pair("alice", "a-new-long-password")
    assert _me(fresh["access"]) == 200


def test_deactivation_revokes_tokens_even_after_reactivation(world):
    pair = jwt_pair("victor")
    world.a_viewer.is_active = False
    world.a_viewer.save()
    assert _me(pair["access"]) == 401
    assert _refresh(pair["refresh"]).status_code == 401
    world.a_viewer.is_active = True
    world.a_viewer.save()
    assert _refresh(pair["refresh"]).status_code == 401  # blacklisted for good


def test_api_key_is_stored_as_a_hash_and_acts_for_its_client(world):
    issued = services.api_key_create(
        user=world.a_admin, client=world.client_a, name="WMS sync", role="VIEWER"
    )
    row = ApiKey.objects.get()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tracking_apikey")
        stored = str(cursor.fetchall())
    assert issued.secret not in stored
    assert issued.secret.split("_", 2)[2] not in stored
    assert row.secret_hash != issued.secret and len(row.secret_hash) == 64
    assert AuditEvent.objects.filter(action="api_key.create", client=world.client_a).exists()

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret}")
    rows = client.get("/api/v1/trackers/").json()["results"]
    assert [r["id"] for r in rows] == [world.tracker_a.pk]
    row.refresh_from_db()
    assert row.last_used_at is not None and timezone.now() - row.last_used_at < timedelta(
        seconds=30
    )

    # Its last use is written at most once a minute, not on every request.
    with CaptureQueriesContext(connection) as queries:
        client.get("/api/v1/me/")
    assert not [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]

    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.secret[:-2]}xx")
    assert wrong.get("/api/v1/me/").status_code == 401

    services.api_key_revoke(user=world.a_admin, key=row)
    assert client.get("/api/v1/me/").status_code == 401


def test_only_client_admins_make_keys(world):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.api_key_create(user=world.a_viewer, client=world.client_a, name="x", role="ADMIN")
    with pytest.raises(PermissionDenied):
        services.api_key_create(user=world.b_admin, client=world.client_a, name="x", role="ADMIN")
    assert not ApiKey.objects.exists()


def test_viewer_key_cannot_write_admin_key_can(world):
    viewer = services.api_key_create(
        user=world.a_admin, client=world.client_a, name="reader", role="VIEWER"
    )
    admin = services.api_key_create(
        user=world.a_admin, client=world.client_a, name="writer", role="ADMIN"
    )
    body = {
        "url": "https://hooks.example.com/x",
        "event_types": ["tracker.status_changed"],
    }
    for secret, expected in ((viewer.secret, 403), (admin.secret, 201)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
        response = client.post("/api/v1/webhooks/", body, format="json")
        assert response.status_code == expected, response.content
    assert response.json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks/").json()["results"]
    assert "secret" not in listed[0]

"""The portal's Integrations page in the browser: a client admin makes an API key, sees it
once, uses it, sees its last use, and revokes it."""

import pytest
from rest_framework.test import APIClient

from tracking.models import ApiKey

pytestmark = pytest.mark.django_db(transaction=True)


def test_client_admin_creates_uses_and_revokes_a_key(world, page_for, screenshot):
    page = page_for(world.a_admin)
    page.goto("/integrations/")
    page.fill("#id_name", "WMS sync")
    page.select_option("#id_role", "VIEWER")
    page.click("#new-key button[type=submit]")
    secret = page.locator("#issued-secret").inner_text().strip()
    assert secret.startswith("tpk_")
    screenshot(page, "integrations-new-key")

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert api.get("/api/v1/trackers/").json()["count"] == 1

    page.goto("/integrations/")
    assert secret not in page.content()  # shown once only
    row = page.locator("#api-keys tbody tr", has_text="WMS sync")
    assert row.locator(".last-used").inner_text() != "never"
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector(".message")
    assert "revoked" in page.locator("#api-keys tbody tr", has_text="WMS sync").inner_text()
    assert ApiKey.objects.get().revoked_at is not None
    assert api.get("/api/v1/trackers/").status_code == 401
    screenshot(page, "integrations-revoked")


def test_viewer_sees_no_keys_of_their_client(world, page_for):
    from tracking import services

    services.api_key_create(user=world.a_admin, client=world.client_a, name="ops", role="ADMIN")
    page = page_for(world.a_viewer)
    page.goto("/integrations/")
    assert page.locator("#not-admin").is_visible()
    assert page.locator("#api-keys").count() == 0

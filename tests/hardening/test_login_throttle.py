"""Wrong passwords are throttled on every login: portal, admin and the API token endpoint."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"


@pytest.fixture
def user(db):
    user = UserFactory(username="dora", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def _login(client, where: str, password: str):
    if where == "api":
        return client.post(
            reverse("api:token-obtain"),
            {"username": "dora", "password": password},
            content_type="application/json",
        )
    url = reverse("login") if where == "portal" else reverse("admin:login")
    return client.post(url, {"username": "dora", "password": password})


@pytest.mark.parametrize("where", ["portal", "admin", "api"])
def test_the_sixth_wrong_password_is_refused_with_429_and_retry_after(
    client, user, where, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, where, "wrong").status_code in (200, 401)
    locked = _login(client, where, "wrong")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    # While locked, even the right password is refused: that is what stops guessing.
    again = _login(client, where, PASSWORD)
    assert again.status_code == 429
    body = again.content.decode()
    assert "Too many failed logins" in body
    if where == "api":
        assert again["Content-Type"] == "application/problem+json"
    else:
        assert "axes_reset_username" in body


def test_the_lock_is_per_username_and_address(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "portal", "wrong")
    other = UserFactory(username="erin")
    other.set_password(PASSWORD)
    other.save()
    response = client.post(reverse("login"), {"username": "erin", "password": PASSWORD})
    assert response.status_code == 302  # another user from the same address still logs in
    elsewhere = client.post(
        reverse("login"), {"username": "dora", "password": PASSWORD}, REMOTE_ADDR="192.0.2.7"
    )
    assert elsewhere.status_code == 302  # and dora from another address too


def test_an_operator_unlocks_with_the_documented_command(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "portal", "wrong")
    assert _login(client, "portal", PASSWORD).status_code == 429
    call_command("axes_reset_username", "dora")
    assert _login(client, "portal", PASSWORD).status_code == 302


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(client, user, settings):
    for i in range(settings.AXES_FAILURE_LIMIT + 1):
        response = client.post(
            reverse("login"),
            {"username": "dora", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"198.51.100.{i}",
        )
    assert response.status_code == 429

"""No password, token, PET or code of an Apple login shows in a log line, a page or command
output: the real values are collected from the simulator and searched for everywhere."""

import io
import logging

from django.core.management import call_command
from django.urls import reverse

from findmy import login, services
from findmy.models import AppleAccount
from tracking import encryption

from .conftest import APPLE_CODE, APPLE_ID, APPLE_PASSWORD


def forbidden(server) -> list[str]:
    values = [APPLE_PASSWORD, APPLE_CODE, *server.issued_secrets]
    assert len(server.issued_secrets) >= 3, "the login handed out tokens to search for"
    return values


def assert_absent(text: str, values: list[str], where: str) -> None:
    for value in values:
        assert value not in text, f"a secret ({len(value)} characters) appears in {where}"


def test_login_relogin_command_and_pages_never_show_a_secret(
    apple, simulator, make_trackers, caplog, client, staff_in
):
    server = apple(second_factor="trusted_device")
    caplog.set_level(logging.DEBUG)  # everything: httpx, httpcore, findmy, django
    pages = []

    # The admin wizard, each step and each refusal.
    client.force_login(staff_in("operations"))
    start = reverse("admin:findmy_appleaccount_login")
    form = {"name": "fleet", "username": APPLE_ID, "keep_password": "on"}
    pages.append(client.post(start, {**form, "password": APPLE_PASSWORD + "x"}))
    step_url = client.post(start, {**form, "password": APPLE_PASSWORD})["Location"]
    pages.append(client.get(step_url))
    client.post(step_url, {"choice": "trusted_device"})
    pages.append(client.post(step_url, {"code": "000000"}))
    pages.append(client.post(step_url, {"code": APPLE_CODE}, follow=True))
    account = AppleAccount.objects.get(name="fleet")

    # A fetch round that logs in again after a 401.
    make_trackers(2)
    simulator.force("session_expired")
    services.fetch_due()
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.OK

    # The command line, renewing the same account.
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "findmy_account",
        "login",
        "fleet",
        "--username",
        APPLE_ID,
        "--password-stdin",
        stdin=io.StringIO(APPLE_PASSWORD + "\n"),
        stdout=out,
        stderr=err,
    )
    call_command("findmy_account", "list", stdout=out)
    assert "logged in fleet" in out.getvalue()

    for url in (
        reverse("admin:findmy_appleaccount_changelist"),
        reverse("admin:findmy_appleaccount_change", args=[account.pk]),
        reverse("admin:findmy_fetchrun_changelist"),
        reverse("admin:index"),
        reverse("admin:tracking_auditevent_changelist"),
    ):
        pages.append(client.get(url))

    values = forbidden(server)
    # The HTTP logs were on, down to httpcore's DEBUG trace of each request.
    assert "httpx" in caplog.text and "GsService2" in caplog.text
    assert "httpcore" in caplog.text
    assert_absent(caplog.text, values, "the log")
    assert_absent(out.getvalue() + err.getvalue(), values, "command output")
    for page in pages:
        assert page.status_code == 200
        assert_absent(page.content.decode(), values, page.request["PATH_INFO"])
    # At rest, only ciphertext.
    for value in (APPLE_PASSWORD, account.session.search_party_token):
        assert value.encode() not in bytes(account.session_encrypted)
        assert value.encode() not in bytes(account.password_encrypted)


def test_no_secret_in_repr_of_tokens_or_steps(apple):
    server = apple(second_factor="none")
    step = login.login_start(name="fleet", username=APPLE_ID, password=APPLE_PASSWORD)
    text = repr(step) + repr(step.account.session)
    assert_absent(text, [APPLE_PASSWORD, *server.issued_secrets], "a repr")


def test_rotate_encryption_key_covers_the_kept_password(apple, settings):
    from cryptography.fernet import Fernet

    apple(second_factor="none")
    old_key = settings.SECRETS_ENCRYPTION_KEY
    account = login.login_start(name="fleet", username=APPLE_ID, password=APPLE_PASSWORD).account
    settings.SECRETS_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.SECRETS_ENCRYPTION_OLD_KEYS = [old_key]
    call_command("rotate_encryption_key", stdout=io.StringIO())
    settings.SECRETS_ENCRYPTION_OLD_KEYS = []
    account.refresh_from_db()
    assert account.apple_password() == APPLE_PASSWORD
    assert encryption.decrypt(account.session_encrypted)

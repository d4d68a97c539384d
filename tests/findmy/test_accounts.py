"""Apple accounts: session import and manual entry, encrypted at rest, never shown; admin."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from findmy import services
from findmy.models import AppleAccount, TrackerFetchState
from tests.factories import TrackerFactory
from tracking.models import AuditEvent

from .factories import AppleAccountFactory

TOKEN = "SECRET-search-party-token-xyz"
FINDMY_PY_SESSION = {
    "type": "account",
    "ids": {"uid": "u-1", "devid": "d-1"},
    "account": {"username": "fleet@example.com", "password": "hunter2", "info": {}},
    "login": {
        "state": 3,
        "data": {"dsid": "9988776655", "mobileme_data": {"tokens": {"searchPartyToken": TOKEN}}},
    },
    "anisette": {"type": "aniRemote", "url": "http://anisette:6969/"},
}


def test_import_of_a_findmy_py_session_is_encrypted_at_rest(world):
    account = services.account_import_session(
        name="fleet", session_json=json.dumps(FINDMY_PY_SESSION), user=world.staff
    )
    account.refresh_from_db()
    assert TOKEN.encode() not in bytes(account.session_encrypted)
    assert b"hunter2" not in bytes(account.session_encrypted)  # the password is not kept
    session = account.session
    assert (session.dsid, session.search_party_token, session.anisette_url) == (
        "9988776655",
        TOKEN,
        "http://anisette:6969/",
    )
    event = AuditEvent.objects.get(action="findmy.account_created")
    assert event.actor == world.staff and TOKEN not in json.dumps(event.details)
    assert AppleAccount.encrypted_fields == ("session_encrypted", "password_encrypted")
    assert account.password_encrypted is None  # an imported session keeps no password


def test_a_new_session_clears_needs_login(db):
    account = AppleAccountFactory(health=AppleAccount.Health.NEEDS_LOGIN)
    services.account_import_session(name=account.name, session_json=FINDMY_PY_SESSION)
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.OK
    assert AuditEvent.objects.filter(action="findmy.account_session_replaced").exists()


@pytest.mark.parametrize(
    "raw",
    ["not json", "[]", json.dumps({"type": "account", "login": {"state": 1, "data": {}}})],
)
def test_sessions_without_a_token_are_refused(db, raw):
    with pytest.raises(services.InvalidSession):
        services.account_import_session(name="x", session_json=raw)
    assert not AppleAccount.objects.exists()


def test_findmy_account_command_imports_and_lists_without_tokens(db, tmp_path, capsys):
    path = tmp_path / "session.json"
    path.write_text(json.dumps(FINDMY_PY_SESSION))
    call_command("findmy_account", "import", str(path))
    call_command("findmy_account", "add", "--name", "manual", "--dsid", "42", "--token", TOKEN)
    call_command("findmy_account", "list")
    out = capsys.readouterr().out
    assert "fleet@example.com" in out and "manual" in out
    assert TOKEN not in out
    assert AppleAccount.objects.get(name="manual").session.dsid == "42"


def test_admin_upload_creates_an_account_and_never_shows_the_token(client, world):
    client.force_login(world.staff)
    upload = SimpleUploadedFile("s.json", json.dumps(FINDMY_PY_SESSION).encode())
    response = client.post(
        reverse("admin:findmy_appleaccount_add"),
        {"name": "uploaded", "is_enabled": "on", "session_file": upload},
    )
    assert response.status_code == 302, response.content[:2000]
    account = AppleAccount.objects.get(name="uploaded")
    assert account.session.search_party_token == TOKEN
    for url in (
        reverse("admin:findmy_appleaccount_changelist"),
        reverse("admin:findmy_appleaccount_change", args=[account.pk]),
    ):
        page = client.get(url)
        assert page.status_code == 200
        assert TOKEN not in page.content.decode()
    assert "9988776655" in page.content.decode()  # the dsid tells accounts apart


def test_admin_manual_entry_needs_both_fields(client, world):
    client.force_login(world.staff)
    url = reverse("admin:findmy_appleaccount_add")
    response = client.post(url, {"name": "m", "dsid": "1"})
    assert response.status_code == 200 and not AppleAccount.objects.exists()
    response = client.post(url, {"name": "m", "dsid": "1", "search_party_token": TOKEN})
    assert response.status_code == 302
    assert AppleAccount.objects.get(name="m").session.search_party_token == TOKEN


def test_admin_needs_login_is_visible_and_can_be_reset(client, world):
    account = AppleAccountFactory(
        health=AppleAccount.Health.NEEDS_LOGIN, last_error="needs_login: HTTP 401"
    )
    client.force_login(world.staff)
    page = client.get(reverse("admin:findmy_appleaccount_changelist") + "?health=NEEDS_LOGIN")
    assert "Needs login" in page.content.decode() and account.name in page.content.decode()
    client.post(
        reverse("admin:findmy_appleaccount_changelist"),
        {"action": "reset_health", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.OK


def test_fetch_health_lists_trackers_that_never_report(client, world):
    quiet = TrackerFactory(production_run=world.run_a, label="quiet")
    TrackerFetchState.objects.create(
        tracker=quiet, backoff_factor=8, consecutive_misses=3, fetches_total=3, misses_total=3
    )
    client.force_login(world.staff)
    url = reverse("admin:findmy_trackerfetchstate_changelist")
    for flt in ("", "?reporting=never", "?reporting=24h", "?reporting=backing_off"):
        page = client.get(url + flt)
        assert page.status_code == 200
        assert quiet.mac_address in page.content.decode()
    assert "100 %" in client.get(url).content.decode()


def test_fetch_run_admin_is_read_only(client, world):
    client.force_login(world.staff)
    assert client.get(reverse("admin:findmy_fetchrun_changelist")).status_code == 200
    assert client.get(reverse("admin:findmy_fetchrun_add")).status_code == 403


def test_customers_cannot_open_findmy_admin(client, world):
    client.force_login(world.a_admin)
    response = client.get(reverse("admin:findmy_appleaccount_changelist"))
    assert response.status_code == 302  # to the admin login

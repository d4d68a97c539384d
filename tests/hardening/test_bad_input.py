"""Malformed input gets a clear 4xx or a named refusal, never a 500, and writes nothing."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from findmy import services
from findmy.models import AppleAccount
from tests.factories import TrackerFactory

# Each of these once raised AttributeError, TypeError or RecursionError out of the parser.
MALFORMED_SESSIONS = {
    "login is text": b'{"login": "x"}',
    "login.data is a list": b'{"login": {"data": []}}',
    "tokens is text": b'{"login": {"data": {"dsid": "1", "mobileme_data": {"tokens": "t"}}}}',
    "dsid is an object": b'{"dsid": {"a": 1}, "search_party_token": "t"}',
    "anisette url is a list": (
        b'{"type": "account", "anisette": {"url": []}, "login": {"data": {"dsid": "1", '
        b'"mobileme_data": {"tokens": {"searchPartyToken": "t"}}}}}'
    ),
    "deeply nested array": b"[" * 100_000 + b"]" * 100_000,
    "deeply nested object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "truncated": b'{"login": {"data": {"dsid": "1"',
    "binary": bytes(range(256)) * 4,
    "too large": b'{"dsid": "1", "search_party_token": "' + b"t" * 1_100_000 + b'"}',
}


@pytest.mark.parametrize("raw", MALFORMED_SESSIONS.values(), ids=MALFORMED_SESSIONS.keys())
def test_malformed_sessions_are_refused_with_a_reason(raw):
    with pytest.raises(services.InvalidSession) as refused:
        services.parse_session_json(raw)
    assert str(refused.value)


@pytest.mark.django_db
@pytest.mark.parametrize("raw", MALFORMED_SESSIONS.values(), ids=MALFORMED_SESSIONS.keys())
def test_admin_upload_of_a_malformed_session_is_a_form_error(client, world, raw):
    client.force_login(world.staff)
    response = client.post(
        reverse("admin:findmy_appleaccount_add"),
        {"name": "bad", "is_enabled": "on", "session_file": SimpleUploadedFile("s.json", raw)},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["session_file"]
    assert not AppleAccount.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("raw", MALFORMED_SESSIONS.values(), ids=MALFORMED_SESSIONS.keys())
def test_account_import_command_refuses_a_malformed_session(tmp_path, raw):
    path = tmp_path / "session.json"
    path.write_bytes(raw)
    with pytest.raises(CommandError):
        call_command("findmy_account", "import", str(path), "--name", "bad")
    assert not AppleAccount.objects.exists()


def test_a_utf16_session_with_a_byte_order_mark_is_read():
    raw = json.dumps({"dsid": "1", "search_party_token": "t"}).encode("utf-16")
    assert services.parse_session_json(raw).dsid == "1"


def test_a_session_with_numbers_for_ids_is_still_read():
    session = services.parse_session_json({"dsid": 123, "search_party_token": "tok"})
    assert (session.dsid, session.search_party_token) == ("123", "tok")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["start=2024-02-30&end=2024-03-01", "start=2024-03-01&end=2024-13-01", "start=yesterday&end="],
)
def test_history_with_an_impossible_date_is_400_naming_it(client, world, query):
    tracker = TrackerFactory(production_run=world.run_a)
    client.force_login(world.a_viewer)
    response = client.get(reverse("portal:tracker-history", args=[tracker.pk]) + "?" + query)
    assert response.status_code == 400
    bad = query.split("&")[0] if "yesterday" in query or "02-30" in query else query.split("&")[1]
    assert bad.split("=")[1] in response.content.decode()


@pytest.mark.django_db
def test_history_with_an_impossible_date_is_404_for_another_clients_tracker(client, world):
    tracker = TrackerFactory(production_run=world.run_a)
    client.force_login(world.b_admin)
    url = reverse("portal:tracker-history", args=[tracker.pk])
    assert client.get(url + "?start=2024-02-30&end=2024-03-01").status_code == 404
    assert (
        client.get(reverse("portal:tracker-history", args=[999_999]) + "?start=x").status_code
        == 404
    )


@pytest.mark.django_db
def test_a_paste_larger_than_the_form_limit_gets_a_page_that_says_so(client, world, settings):
    client.force_login(world.staff)
    text = "AA:BB:CC:DD:EE:FF\n" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 18 + 10)
    response = client.post(reverse("admin:fleet_devices_receive"), {"macs_text": text})
    assert response.status_code == 400
    body = response.content.decode()
    assert "larger than 2.5 MB" in body and "as a file" in body


@pytest.mark.django_db
def test_an_api_body_larger_than_the_limit_is_a_problem_document(client, world, settings):
    client.force_login(world.staff)
    body = '{"username": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = client.post("/api/v1/token/", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert "larger than" in response.json()["detail"]

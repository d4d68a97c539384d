"""The fetch client and the anisette client, over HTTP against the simulator."""

import base64
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from findmy import anisette, client
from findmy.errors import (
    AccountBackoff,
    AccountNeedsLogin,
    AnisetteUnavailable,
    EmptyResponse,
    ResponseTooLarge,
    TransientFetchError,
)
from findmy.models import AccountSession

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "findmy_vectors.json").read_text())
EXCHANGE = VECTORS["fetch_exchange_example"]
SESSION = AccountSession(dsid="1234567890", search_party_token="FAKE-TOKEN")


def test_v2_request_body_matches_what_findmy_py_sends():
    sent = EXCHANGE["request"]["json"]
    queries = [
        client.KeyQuery(
            entry["primaryIds"][0],
            datetime.fromtimestamp(entry["startDate"] / 1000, UTC),
            datetime.fromtimestamp(entry["endDate"] / 1000, UTC),
        )
        for entry in sent["fetch"]
    ]
    body = client.build_request_body(queries, protocol="v2", entries_per_request=20)
    assert body == sent


def test_ids_are_spread_over_the_configured_number_of_entries():
    t = datetime(2026, 11, 1, tzinfo=UTC)
    queries = [client.KeyQuery(f"id{i}", t, t) for i in range(10)]
    body = client.build_request_body(queries, protocol="v2", entries_per_request=3)
    assert [len(e["primaryIds"]) for e in body["fetch"]] == [4, 4, 2]
    legacy = client.build_request_body(queries, protocol="legacy", entries_per_request=1)
    assert legacy["search"][0]["ids"] == [f"id{i}" for i in range(10)]


def test_v2_response_of_the_exchange_example_is_parsed():
    answer = client.FetchAnswer()
    client.parse_response(EXCHANGE["response"], protocol="v2", answer=answer)
    assert len(answer.payloads) == 3
    assert answer.report_count == 12
    first = EXCHANGE["response"]["acsnLocations"]["locationPayload"][0]
    assert answer.payloads[first["id"]][0] == base64.b64decode(first["locationInfo"][0])


def test_fetch_sends_basic_auth_and_anisette_headers(simulator, settings):
    seen = {}
    original = simulator.answer_flagged

    def spy(entries):
        seen["entries"] = entries
        return original(entries)

    simulator.answer_flagged = spy
    t = datetime.now(UTC)
    answer = client.fetch_reports(session=SESSION, queries=[client.KeyQuery("abc=", t, t)])
    assert answer.payloads == {}  # unknown key: answered (no error raised), nothing found
    assert seen["entries"] == [(["abc="], int(t.timestamp() * 1000), int(t.timestamp() * 1000))]


def test_missing_auth_is_refused_by_the_simulator(simulator):
    import httpx

    response = httpx.post(simulator.base_url + "/findmyservice/v2/fetch", json={"fetch": []})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("fault", "error", "transient"),
    [
        ("unauthorized", AccountNeedsLogin, False),
        ("server_error", AccountBackoff, True),
        ("rate_limited", AccountBackoff, True),
    ],
)
def test_http_errors_raise_errors_that_say_whether_to_retry(simulator, fault, error, transient):
    simulator.force(fault)
    t = datetime.now(UTC)
    with pytest.raises(error) as caught:
        client.fetch_reports(session=SESSION, queries=[client.KeyQuery("abc=", t, t)])
    assert caught.value.transient is transient
    if fault == "rate_limited":
        assert caught.value.retry_after == 60


def test_a_truncated_answer_is_a_transient_error(simulator):
    simulator.force("truncated")
    t = datetime.now(UTC)
    with pytest.raises(TransientFetchError, match="not JSON"):
        client.fetch_reports(session=SESSION, queries=[client.KeyQuery("abc=", t, t)])


def test_an_oversized_answer_stops_being_read_at_the_cap(simulator, settings):
    settings.FINDMY_MAX_RESPONSE_BYTES = 1_000_000
    simulator.config.oversized_bytes = 20_000_000
    simulator.force("oversized")
    t = datetime.now(UTC)
    with pytest.raises(ResponseTooLarge) as caught:
        client.fetch_reports(session=SESSION, queries=[client.KeyQuery("abc=", t, t)])
    assert caught.value.transient and caught.value.kind == "too_large"
    # The client hung up: the simulator could not send the 20 MB it meant to.
    wait = time.monotonic() + 5
    while "oversized_bytes_sent" not in simulator.counters and time.monotonic() < wait:
        time.sleep(0.05)
    assert simulator.counters["oversized_bytes_sent"] < 20_000_000


def test_empty_200s_are_retried_then_raised(simulator, settings):
    settings.FINDMY_EMPTY_RESPONSE_RETRIES = 2
    simulator.force("empty", "empty", "empty")
    t = datetime.now(UTC)
    with pytest.raises(EmptyResponse):
        client.fetch_reports(session=SESSION, queries=[client.KeyQuery("abc=", t, t)])
    assert len(simulator.requests) == 3


def test_a_slow_answer_times_out_as_a_transient_error(simulator):
    simulator.config.slow_seconds = 2
    simulator.force("slow")
    t = datetime.now(UTC)
    with pytest.raises(TransientFetchError):
        client.fetch_reports(session=SESSION, queries=[client.KeyQuery("abc=", t, t)], timeout=0.5)


def test_anisette_headers_are_cached_for_a_while(simulator, settings):
    first = anisette.get_headers()
    second = anisette.get_headers()
    assert first == second
    assert first["X-Apple-I-MD-RINFO"] == "17106176"
    assert first["loc"] == "en_US"
    assert simulator.counters["anisette"] == 1
    settings.FINDMY_ANISETTE_CACHE_SECONDS = 0
    anisette.clear_cache()
    anisette.get_headers()
    anisette.get_headers()
    assert simulator.counters["anisette"] == 3


def test_anisette_server_down_is_transient(settings):
    anisette.clear_cache()
    with pytest.raises(AnisetteUnavailable) as caught:
        anisette.get_headers("http://127.0.0.1:9/", timeout=1)
    assert caught.value.transient


def test_unknown_protocol_setting_is_refused(settings):
    settings.FINDMY_FETCH_PROTOCOL = "v3"
    with pytest.raises(ValueError, match="FINDMY_FETCH_PROTOCOL"):
        client.fetch_reports(session=SESSION, queries=[])


def test_session_repr_hides_the_token():
    assert "FAKE-TOKEN" not in repr(SESSION)

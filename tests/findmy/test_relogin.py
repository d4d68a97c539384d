"""A 401 in a fetch round: one re-login with the kept password, one retry, or NEEDS_LOGIN."""

from django.urls import reverse

from findmy import login, services
from findmy.gsa_simulator import GsaAccountConfig, GsaSimulator
from findmy.models import AppleAccount, FetchRun, TrackerFetchState
from tracking.models import AuditEvent, LocationReport

from .conftest import APPLE_CODE, APPLE_ID, APPLE_PASSWORD
from .test_fetch import produced_in_run, stored_hashes


def log_in(keep_password=True) -> AppleAccount:
    step = login.login_start(
        name="fleet", username=APPLE_ID, password=APPLE_PASSWORD, keep_password=keep_password
    )
    if step.state != login.LOGGED_IN:
        login.login_request_code(login_id=step.login_id, method="trusted_device")
        step = login.login_submit_code(login_id=step.login_id, code=APPLE_CODE)
    return step.account


def assert_trackers_not_blamed(trackers):
    for state in TrackerFetchState.objects.filter(tracker__in=trackers):
        assert (state.consecutive_misses, state.misses_total, state.backoff_factor) == (0, 0, 1)
        assert state.claimed_until is None


def test_401_mid_round_logs_in_again_and_stores_the_rounds_reports_once(
    apple, simulator, make_trackers, settings
):
    server = apple(second_factor="trusted_device")
    account = log_in()
    old_token = account.session.search_party_token
    settings.FINDMY_IDS_PER_REQUEST = 2
    trackers = make_trackers(4)
    simulator.force("ok", "session_expired")  # the second request of the round gets 401

    summary = services.fetch_due()

    assert (summary.requests, summary.errors) == (2, 0)
    assert simulator.counters["requests"] == 3  # ok, 401, the retry
    assert simulator.counters["session_expired"] == 1
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.OK
    new_token = account.session.search_party_token
    assert new_token != old_token
    assert old_token in server.revoked_tokens and new_token in server.issued_tokens
    assert server.counters["delegates"] == 2  # the login and exactly one re-login
    assert server.counters["codes_sent"] == 1  # the re-login needed no second factor
    assert AuditEvent.objects.filter(action="findmy.account_relogin").count() == 1

    expected = {}
    for tracker in trackers:
        expected.update(produced_in_run(simulator, tracker))
    assert expected
    assert stored_hashes() == set(expected)
    assert LocationReport.objects.count() == len(expected)
    runs = list(FetchRun.objects.all())
    assert [r.error_kind for r in runs] == ["", ""]
    assert sum(r.reports_new for r in runs) == len(expected)
    assert sum(r.reports_duplicate for r in runs) == 0


def test_second_factor_asked_again_parks_the_account_as_needs_login(
    apple, simulator, make_trackers, client, staff_in
):
    server = apple(second_factor="trusted_device", always_second_factor=True)
    account = log_in()
    trackers = make_trackers(2)
    simulator.force("session_expired")

    services.fetch_due()

    account.refresh_from_db()
    assert account.health == AppleAccount.Health.NEEDS_LOGIN
    assert account.last_error.startswith("second_factor_again: Apple asks for a second factor")
    assert "findmy_account login fleet" in account.last_error
    run = FetchRun.objects.get()
    assert run.error_kind == "second_factor_again"
    assert server.counters["delegates"] == 1  # no iCloud login without the code
    assert_trackers_not_blamed(trackers)
    assert AuditEvent.objects.filter(
        action="findmy.account_health_changed", details__health="NEEDS_LOGIN"
    ).exists()
    # The operations dashboard's alert says why and what to do.
    client.force_login(staff_in("viewer"))
    page = client.get(reverse("admin:index")).content.decode()
    assert "Needs login. Apple refused its session, and Apple asks for a second-factor" in page
    assert "findmy_account login fleet --username APPLE_ID" in page


def test_refused_relogin_parks_the_account_as_needs_login(apple, simulator, make_trackers):
    apple(second_factor="none")
    account = log_in()
    trackers = make_trackers(2)
    # The password was changed at Apple since: the kept one no longer works.
    simulator.gsa = GsaSimulator(
        GsaAccountConfig(username=APPLE_ID, password="changed-elsewhere", second_factor="none")
    )
    simulator.force("unauthorized")

    services.fetch_due()

    account.refresh_from_db()
    assert account.health == AppleAccount.Health.NEEDS_LOGIN
    assert account.last_error.startswith("relogin_refused: HTTP 401, then the re-login failed")
    assert "refused the password" in account.last_error
    assert simulator.gsa.counters["wrong_password"] == 1
    assert_trackers_not_blamed(trackers)
    assert not LocationReport.objects.exists()


def test_a_second_401_after_the_relogin_is_final(apple, simulator, make_trackers):
    server = apple(second_factor="none")
    account = log_in()
    trackers = make_trackers(1)
    simulator.force("unauthorized", "unauthorized")

    services.fetch_due()

    account.refresh_from_db()
    assert account.health == AppleAccount.Health.NEEDS_LOGIN
    assert FetchRun.objects.get().error_kind == "needs_login"
    assert server.counters["delegates"] == 2  # one re-login, not a loop
    assert simulator.counters["requests"] == 2
    assert_trackers_not_blamed(trackers)


def test_without_a_kept_password_a_401_needs_login_at_once(apple, simulator, make_trackers):
    server = apple(second_factor="none")
    account = log_in(keep_password=False)
    make_trackers(1)
    simulator.force("unauthorized")

    services.fetch_due()

    account.refresh_from_db()
    assert account.health == AppleAccount.Health.NEEDS_LOGIN
    assert server.counters["gsa_init"] == 1  # only the first login

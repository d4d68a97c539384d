"""A fetch round that meets a broken account or a broken setting keeps nothing leased and
blames no tracker: the account that cannot work is parked, the others go on."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from findmy import services
from findmy.models import AccountSession, AppleAccount, FetchRun, TrackerFetchState
from tracking.models import LocationReport

from .factories import AppleAccountFactory


def unreadable_account() -> AppleAccount:
    """An account whose session was encrypted under a key this installation no longer has."""
    foreign = Fernet(Fernet.generate_key())
    session = AccountSession(dsid="1", search_party_token="TOKEN-lost-key")
    return AppleAccountFactory(session_encrypted=foreign.encrypt(session.to_json()))


def test_an_undecryptable_session_parks_its_account_and_releases_the_claims(
    simulator, make_trackers
):
    account = unreadable_account()
    trackers = make_trackers(3)
    summary = services.fetch_due()
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.NEEDS_LOGIN
    assert account.last_error.startswith("session_unreadable:")
    assert "TOKEN" not in account.last_error
    assert summary.stopped_because == "no account ready"
    assert not TrackerFetchState.objects.filter(tracker__in=trackers, claimed_by__gt="").exists()
    states = TrackerFetchState.objects.filter(tracker__in=trackers)
    assert all(s.misses_total == 0 for s in states)  # no tracker is blamed
    assert simulator.requests == []  # nothing was sent with a session nobody can read


def test_the_other_accounts_fetch_when_one_session_is_undecryptable(simulator, make_trackers):
    broken = unreadable_account()
    healthy = AppleAccountFactory()
    trackers = make_trackers(3)
    services.fetch_due()
    healths = dict(AppleAccount.objects.values_list("pk", "health"))
    assert healths[healthy.pk] == AppleAccount.Health.OK
    assert set(LocationReport.objects.values_list("tracker", flat=True)) == {t.pk for t in trackers}
    # The broken account was either parked or never reached; never left OK and used again.
    if FetchRun.objects.filter(account=broken).exists():
        assert healths[broken.pk] == AppleAccount.Health.NEEDS_LOGIN


def test_an_unknown_fetch_protocol_claims_nothing_and_blames_no_account(
    simulator, account, make_trackers, settings
):
    trackers = make_trackers(2)
    settings.FINDMY_FETCH_PROTOCOL = "v9"
    with pytest.raises(ImproperlyConfigured, match="FINDMY_FETCH_PROTOCOL='v9'"):
        services.fetch_due()
    assert not TrackerFetchState.objects.filter(tracker__in=trackers, claimed_by__gt="").exists()
    account.refresh_from_db()
    assert account.health == AppleAccount.Health.OK
    assert simulator.requests == []

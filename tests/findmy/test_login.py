"""Apple's login over real HTTP against the simulator: GSA SRP-6a, second factors, delegates."""

from datetime import timedelta

import pytest
from django.utils import timezone

from findmy import gsa, login
from findmy.models import AccountLogin, AppleAccount
from tracking.models import AuditEvent

from .conftest import APPLE_CODE, APPLE_ID, APPLE_PASSWORD


def start(name="fleet-1", username=APPLE_ID, password=APPLE_PASSWORD, **kwargs):
    return login.login_start(name=name, username=username, password=password, **kwargs)


def test_trusted_device_login_saves_account_with_the_issued_session(apple):
    server = apple(second_factor="trusted_device")
    step = start()
    assert step.state == login.NEEDS_SECOND_FACTOR
    assert step.methods == ["trusted_device", "sms"]
    assert [p.number for p in step.phones] == ["+49 ••• ••••••89", "+1 ••• •••••23"]
    assert not AppleAccount.objects.exists()  # nothing saved before the login is complete
    pending = AccountLogin.objects.get()
    assert APPLE_PASSWORD.encode() not in bytes(pending.state_encrypted)

    step = login.login_request_code(login_id=step.login_id, method="trusted_device")
    assert step.state == login.CODE_SENT
    assert server.counters["codes_sent"] == 1
    step = login.login_submit_code(login_id=step.login_id, code=APPLE_CODE)

    assert step.state == login.LOGGED_IN
    account = AppleAccount.objects.get(name="fleet-1")
    assert account.health == AppleAccount.Health.OK
    assert account.username == APPLE_ID
    assert account.session.dsid == server.config.dsid
    assert account.session.search_party_token in server.issued_tokens
    assert account.keeps_password and account.apple_password() == APPLE_PASSWORD
    assert APPLE_PASSWORD.encode() not in bytes(account.password_encrypted)
    assert not AccountLogin.objects.exists()
    assert server.counters["gsa_ok"] == 2  # before and after the code
    assert AuditEvent.objects.filter(action="findmy.account_created").count() == 1


def test_sms_login_with_the_chosen_phone(apple):
    server = apple(second_factor="sms")
    step = start(keep_password=False)
    assert step.methods == ["sms"]
    with pytest.raises(login.InvalidLoginInput, match="trusted phone numbers"):
        login.login_request_code(login_id=step.login_id, method="sms", phone_id=9)
    with pytest.raises(login.InvalidLoginInput, match="does not offer trusted_device"):
        login.login_request_code(login_id=step.login_id, method="trusted_device")
    step = login.login_request_code(login_id=step.login_id, method="sms", phone_id=2)
    step = login.login_submit_code(login_id=step.login_id, code=APPLE_CODE)
    account = step.account
    assert account.session.search_party_token in server.issued_tokens
    assert not account.keeps_password  # the operator chose not to keep it


def test_account_without_second_factor_logs_in_at_once(apple):
    server = apple(second_factor="none")
    step = start()
    assert step.state == login.LOGGED_IN
    assert step.account.session.search_party_token in server.issued_tokens
    assert server.counters["codes_sent"] == 0


@pytest.mark.parametrize("protocol", ["s2k", "s2k_fo"])
def test_both_password_protocols(apple, protocol):
    server = apple(second_factor="none", protocol=protocol)
    assert start().state == login.LOGGED_IN
    assert server.counters["wrong_password"] == 0


def test_wrong_password_is_refused_and_nothing_is_saved(apple):
    server = apple()
    with pytest.raises(gsa.WrongPassword, match="refused the password"):
        start(password="not-the-password")
    assert server.counters["wrong_password"] == 1
    assert not AppleAccount.objects.exists()
    assert not AccountLogin.objects.exists()


def test_unknown_user_has_its_own_error(apple):
    apple()
    with pytest.raises(gsa.UnknownUser, match="does not know the Apple ID 'nobody@example.com'"):
        start(username="nobody@example.com")
    assert not AppleAccount.objects.exists()


def test_wrong_code_keeps_the_login_for_another_try(apple):
    server = apple(second_factor="trusted_device")
    step = start()
    login.login_request_code(login_id=step.login_id, method="trusted_device")
    with pytest.raises(gsa.WrongCode, match="refused the code"):
        login.login_submit_code(login_id=step.login_id, code="000000")
    assert server.counters["wrong_code"] == 1
    assert not AppleAccount.objects.exists()
    assert login.login_submit_code(login_id=step.login_id, code=APPLE_CODE).account


def test_wrong_sms_code(apple):
    apple(second_factor="sms")
    step = start()
    login.login_request_code(login_id=step.login_id, method="sms", phone_id=1)
    with pytest.raises(gsa.WrongCode):
        login.login_submit_code(login_id=step.login_id, code="111111")
    with pytest.raises(login.InvalidLoginInput, match="six digits"):
        login.login_submit_code(login_id=step.login_id, code="12ab")
    assert not AppleAccount.objects.exists()


def test_expired_login_state_is_refused_and_forgotten(apple):
    apple()
    step = start()
    AccountLogin.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(login.LoginExpired, match="more than 10 minutes ago"):
        login.login_request_code(login_id=step.login_id, method="trusted_device")
    assert not AccountLogin.objects.exists()
    with pytest.raises(login.LoginExpired, match="unknown or was already finished"):
        login.login_submit_code(login_id=step.login_id, code=APPLE_CODE)
    assert not AppleAccount.objects.exists()


def test_login_state_expires_ten_minutes_after_the_start(apple):
    apple()
    before = timezone.now()
    start()
    expires_at = AccountLogin.objects.get().expires_at
    assert timedelta(minutes=10) <= expires_at - before < timedelta(minutes=10, seconds=30)


def test_account_limit_reached_says_so_in_plain_words(apple):
    apple(second_factor="none", account_limit_reached=True)
    with pytest.raises(gsa.AccountLimitReached, match="too many devices"):
        start()
    assert not AppleAccount.objects.exists()


def test_login_renews_an_account_that_needs_login(apple, account):
    server = apple(second_factor="none")
    AppleAccount.objects.filter(pk=account.pk).update(health=AppleAccount.Health.NEEDS_LOGIN)
    step = start(name=account.name)
    account.refresh_from_db()
    assert step.account.pk == account.pk
    assert account.health == AppleAccount.Health.OK
    assert account.session.search_party_token in server.issued_tokens


def test_empty_input_is_refused_before_any_request(apple):
    server = apple()
    with pytest.raises(login.InvalidLoginInput, match="password"):
        start(password="")
    with pytest.raises(login.InvalidLoginInput, match="name"):
        start(name=" ")
    assert server.counters["gsa_init"] == 0


def test_anisette_down_is_a_transient_login_error(apple):
    apple()
    with pytest.raises(gsa.LoginUnavailable) as caught:
        start(anisette_url="http://127.0.0.1:9/")
    assert caught.value.transient
    assert not AppleAccount.objects.exists()

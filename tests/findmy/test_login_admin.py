"""The admin wizard "Log in an Apple account", with Django's test client against the simulator."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from findmy.models import AccountLogin, AppleAccount

from .conftest import APPLE_CODE, APPLE_ID, APPLE_PASSWORD

START = "admin:findmy_appleaccount_login"


@pytest.fixture
def operator(client, staff_in):
    client.force_login(staff_in("operations"))
    return client


def start(client, **overrides):
    data = {
        "name": "fleet-admin",
        "username": APPLE_ID,
        "password": APPLE_PASSWORD,
        "anisette_url": "",
        "keep_password": "on",
        **overrides,
    }
    return client.post(reverse(START), data)


def test_changelist_offers_the_wizard(operator, apple):
    page = operator.get(reverse("admin:findmy_appleaccount_changelist")).content.decode()
    assert f'href="{reverse(START)}"' in page and "Log in an Apple account" in page


def test_trusted_device_wizard_from_password_to_done(operator, apple):
    server = apple(second_factor="trusted_device")
    assert operator.get(reverse(START)).status_code == 200
    response = start(operator)
    assert response.status_code == 302
    step_url = response["Location"]
    assert not AppleAccount.objects.exists()

    page = operator.get(step_url).content.decode()
    assert "Show it on the account&#x27;s trusted devices" in page
    assert "By SMS to +49 ••• ••••••89" in page
    assert "23456789" not in page and "5550123" not in page  # numbers are masked

    assert operator.post(step_url, {"choice": "trusted_device"})["Location"] == step_url
    page = operator.get(step_url).content.decode()
    assert "A code is shown on the account's trusted devices." in page

    wrong = operator.post(step_url, {"code": "000000"})
    assert wrong.status_code == 200
    assert "Apple refused the code: it is wrong or no longer valid." in wrong.content.decode()
    assert not AppleAccount.objects.exists()

    done = operator.post(step_url, {"code": APPLE_CODE}, follow=True)
    account = AppleAccount.objects.get(name="fleet-admin")
    assert done.redirect_chain[-1][0] == reverse(
        "admin:findmy_appleaccount_change", args=[account.pk]
    )
    page = done.content.decode()
    assert "Apple account fleet-admin is logged in. The password is kept encrypted" in page
    assert f"Apple ID {APPLE_ID}, password kept (encrypted)" in page
    assert account.session.search_party_token in server.issued_tokens
    assert not AccountLogin.objects.exists()


def test_sms_wizard_sends_to_the_chosen_phone(operator, apple):
    server = apple(second_factor="sms")
    step_url = start(operator)["Location"]
    page = operator.get(step_url).content.decode()
    assert "trusted devices" not in page
    operator.post(step_url, {"choice": "sms:2"})
    assert "A code was sent by SMS to +1 ••• •••••23." in operator.get(step_url).content.decode()
    operator.post(step_url, {"code": APPLE_CODE})
    assert AppleAccount.objects.get(name="fleet-admin").session.search_party_token in (
        server.issued_tokens
    )


def test_account_without_second_factor_is_done_after_the_password(operator, apple):
    apple(second_factor="none")
    response = start(operator, keep_password="")
    account = AppleAccount.objects.get(name="fleet-admin")
    assert response["Location"] == reverse("admin:findmy_appleaccount_change", args=[account.pk])
    assert not account.keeps_password


@pytest.mark.parametrize(
    ("overrides", "config", "message"),
    [
        ({"password": "wrong"}, {}, "Apple refused the password for &#x27;owner@example.com&#x27;"),
        (
            {"username": "nobody@example.com"},
            {},
            "Apple does not know the Apple ID &#x27;nobody@example.com&#x27;",
        ),
        ({}, {"second_factor": "none", "account_limit_reached": True}, "too many devices"),
    ],
    ids=["wrong-password", "unknown-user", "account-limit"],
)
def test_each_refusal_has_its_own_message_and_saves_nothing(
    operator, apple, overrides, config, message
):
    apple(**config)
    response = start(operator, **overrides)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    typed = overrides.get("password", APPLE_PASSWORD)
    assert f'value="{typed}"' not in page and APPLE_PASSWORD not in page
    assert not AppleAccount.objects.exists()
    assert not AccountLogin.objects.exists()


def test_missing_fields_are_named(operator, apple):
    response = start(operator, password="", username="")
    page = response.content.decode()
    assert page.count("This field is required.") == 2
    assert apple().counters["gsa_init"] == 0


def test_expired_login_sends_back_to_the_start(operator, apple):
    apple()
    step_url = start(operator)["Location"]
    AccountLogin.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = operator.post(step_url, {"choice": "trusted_device"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse(START)
    assert "has expired; start the login again" in response.content.decode()
    assert not AccountLogin.objects.exists()


def test_cancel_forgets_the_login(operator, apple):
    apple()
    step_url = start(operator)["Location"]
    operator.post(step_url, {"cancel": "Cancel"})
    assert not AccountLogin.objects.exists()
    assert not AppleAccount.objects.exists()


def test_another_staff_members_login_cannot_be_continued(operator, apple, client, staff_in):
    apple()
    step_url = start(operator)["Location"]
    client.force_login(staff_in("operations", username="colleague"))
    response = client.get(step_url)
    assert response["Location"] == reverse(START)
    assert AccountLogin.objects.count() == 1


def test_viewer_may_not_log_accounts_in(client, staff_in, apple):
    client.force_login(staff_in("viewer"))
    assert client.get(reverse(START)).status_code == 403
    assert start(client).status_code == 403

"""The "Log in an Apple account" wizard in Chromium, against the simulator's Apple login."""

import pytest
from playwright.sync_api import expect

from findmy.models import AppleAccount
from tests.findmy.conftest import APPLE_CODE, APPLE_ID, APPLE_PASSWORD, apple, simulator  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_operator_logs_an_apple_id_in_with_a_trusted_device_code(staff_page, apple, screenshot):  # noqa: F811
    server = apple(second_factor="trusted_device")
    page, _ = staff_page("operations")
    page.goto("/admin/findmy/appleaccount/")
    page.click("#apple-login-link")
    page.fill("#id_name", "fleet-browser")
    page.fill("#id_username", APPLE_ID)
    page.fill("#id_password", "not-the-password")
    page.click("input[name=next]")
    expect(page.locator(".login-error")).to_contain_text("Apple refused the password")
    assert page.input_value("#id_password") == ""  # a typed password is never sent back

    page.fill("#id_password", APPLE_PASSWORD)
    page.click("input[name=next]")
    expect(page.locator("[aria-current=step]")).to_have_text("Second factor")
    expect(page.locator("label", has_text="By SMS to +49 ••• ••••••89")).to_be_visible()
    screenshot(page, "apple-login-second-factor")
    page.check("input[value=trusted_device]")
    page.click("input[name=next]")

    expect(page.locator("#code-sent")).to_contain_text("shown on the account's trusted devices")
    page.fill("#id_code", APPLE_CODE)
    screenshot(page, "apple-login-code")
    page.click("input[name=next]")
    expect(page.locator(".messagelist")).to_contain_text("Apple account fleet-browser is logged in")
    account = AppleAccount.objects.get(name="fleet-browser")
    assert account.session.search_party_token in server.issued_tokens
    assert page.js_errors == []

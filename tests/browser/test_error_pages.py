"""The pages that refuse: a locked login and an oversized form say why, at any width."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_locked_login_says_how_long_and_how_to_unlock(new_page, settings, screenshot):
    UserFactory(username="dora")
    page = new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.goto(reverse("login"))
        page.fill("input[name=username]", "dora")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Login locked for now")
    expect(page.locator("[role=alert]")).to_contain_text("axes_reset_username")
    screenshot(page, "login-locked")
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

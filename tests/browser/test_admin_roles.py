"""Staff roles in the browser: who gets in, and who is refused the lifecycle pages."""

import pytest
from playwright.sync_api import expect

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_operations_member_logs_in_through_the_admin_login(new_page, staff_in, screenshot):
    staff_in("operations", username="olga")
    page = new_page()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "olga")
    page.fill("#id_password", "pass-for-tests")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    assert page.locator("#user-tools").inner_text().upper().startswith("WELCOME")
    assert page.locator("a[href='/admin/tracking/keybatch/add/']").count() == 1
    screenshot(page, "admin-index-operations")


def test_support_member_is_refused_the_lifecycle_pages(staff_page, screenshot):
    page, _ = staff_page("support")
    for url in ("/admin/tracking/keybatch/add/", "/admin/tracking/keybatch/receive/"):
        response = page.goto(url)
        assert response.status == 403, url
    screenshot(page, "support-refused-generate")
    page.goto("/admin/tracking/keybatch/")
    assert page.locator(".object-tools a[href$='/add/']").count() == 0


def test_a_user_who_is_not_staff_cannot_log_in_to_admin(new_page):
    UserFactory(username="customer")
    page = new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", "customer")
    page.fill("#id_password", "pass-for-tests")
    page.click("input[type=submit]")
    expect(page.locator(".errornote")).to_contain_text("staff account")

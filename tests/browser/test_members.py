"""Members in the browser: a client admin invites a person, the e-mail's link lets them set a
password, they log in and see the client; a viewer sees the members but no form; the pages fit
a phone."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from tracking.models import Invitation, Membership

pytestmark = pytest.mark.django_db(transaction=True)


def _no_horizontal_scroll(page) -> None:
    page.set_viewport_size({"width": 375, "height": 900})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size({"width": 1400, "height": 900})
    assert width <= 375, width


def test_admin_invites_the_link_sets_a_password_the_member_logs_in(
    page_for, new_page, world, screenshot
):
    admin = page_for(world.a_admin)
    admin.goto("/")
    admin.click("#members-link")
    section = admin.locator(f"#client-{world.client_a.pk}")
    expect(section.locator("tr[data-member=victor] td.role select")).to_have_value("VIEWER")
    section.locator("input[name=email]").fill("nina@example.com")
    section.locator("select[name=role]").last.select_option("VIEWER")
    section.locator(".invite-form button[type=submit]").click()
    expect(admin.locator(".message")).to_contain_text("Invitation sent to nina@example.com")
    expect(admin.locator("tr[data-invitation='nina@example.com']")).to_be_visible()
    _no_horizontal_scroll(admin)
    screenshot(admin, "members-admin")

    [message] = mail.outbox
    link = re.search(r"https?://\S+/invitations/\S+/", message.body).group(0)
    token = link.rstrip("/").rsplit("/", 1)[1]

    invitee = new_page()
    invitee.goto(link)
    assert token not in invitee.url  # the token moved into the session
    expect(invitee.locator("h1")).to_have_text("Join Alpha Logistics")
    assert token not in invitee.content()
    invitee.fill("#id_username", "nina")
    invitee.fill("#id_password1", "orchard-lantern-93")
    invitee.fill("#id_password2", "orchard-lantern-93")
    _no_horizontal_scroll(invitee)
    screenshot(invitee, "invitation-accept")
    invitee.click("#set-password button[type=submit]")
    expect(invitee.locator(".message")).to_contain_text("log in as nina")
    invitee.fill("#id_username", "nina")
    invitee.fill("#id_password", "orchard-lantern-93")
    invitee.click("form.card button[type=submit]")
    expect(invitee.locator("#members-link")).to_be_visible()
    invitee.click("#members-link")
    expect(invitee.locator(f"#client-{world.client_a.pk} h2")).to_have_text("Alpha Logistics")
    expect(invitee.locator("tr[data-member=nina] td.role")).to_have_text("Viewer")
    assert invitee.locator(".invite-form").count() == 0
    assert Membership.objects.get(user__username="nina").client == world.client_a

    # The link worked once.
    invitee.goto(link)
    expect(invitee.locator("#invitation-closed")).to_have_attribute("data-state", "ACCEPTED")
    _no_horizontal_scroll(invitee)
    screenshot(invitee, "invitation-used")
    assert Invitation.objects.get().accepted_at is not None


def test_viewer_sees_members_without_forms_and_the_last_admin_stays(page_for, world, screenshot):
    viewer = page_for(world.a_viewer)
    viewer.goto("/members/")
    expect(viewer.locator("tr[data-member=alice] td.role")).to_have_text("Admin")
    assert viewer.locator(".invite-form").count() == 0
    assert viewer.locator(".member-role-form, .member-remove-form").count() == 0
    _no_horizontal_scroll(viewer)
    screenshot(viewer, "members-viewer")

    admin = page_for(world.a_admin)
    admin.goto("/members/")
    admin.locator("tr[data-member=alice] .member-remove-form button").click()
    expect(admin.locator(".message")).to_contain_text("alice is the last admin of Alpha Logistics")
    expect(admin.locator("tr[data-member=alice]")).to_be_visible()

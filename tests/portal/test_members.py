"""Members of a client: the list, invitations by e-mail (a token whose hash alone is kept, a
link that works once and expires), role changes and removal by the client's admins, and the
client's last admin, who stays."""

import hashlib
import io
import logging
import re
import smtplib
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import MembershipFactory, UserFactory
from trackersite.requestid import SecretPathLogFilter
from tracking import services
from tracking.models import AuditEvent, Invitation, Membership

pytestmark = pytest.mark.django_db

User = get_user_model()


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _invite(client, world, email="new.person@example.com", role="VIEWER", follow=False):
    return client.post(
        reverse("portal:member-invite", args=[world.client_a.pk]),
        {"email": email, "role": role},
        follow=follow,
    )


def _link(message) -> str:
    return re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", message.body).group(1)


# --- The list ------------------------------------------------------------------------------


def test_members_page_lists_each_clients_members_with_roles(client, world):
    client.force_login(world.a_admin)
    response = client.get(reverse("portal:members"))
    assert response.status_code == 200
    [section] = response.context["sections"]
    assert section["client"] == world.client_a
    assert {(m.user.username, m.role) for m in section["members"]} == {
        ("alice", "ADMIN"),
        ("victor", "VIEWER"),
    }
    html = response.content.decode()
    assert "bob" not in html and "Bravo Retail" not in html
    assert 'class="card narrow members-form invite-form"' in html


def test_viewer_sees_the_members_but_no_form_to_change_them(client, world):
    client.force_login(world.a_viewer)
    html = client.get(reverse("portal:members")).content.decode()
    assert "alice" in html and "victor" in html
    assert "invite-form" not in html
    assert "member-role-form" not in html and "member-remove-form" not in html


def test_staff_see_every_client(client, world):
    client.force_login(world.staff)
    sections = client.get(reverse("portal:members")).context["sections"]
    assert [s["client"].name for s in sections] == ["Alpha Logistics", "Bravo Retail"]


def test_members_page_queries_do_not_grow_with_members(client, world):
    client.force_login(world.a_admin)
    client.get(reverse("portal:members"))  # warm the session
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("portal:members"))
    for n in range(30):
        MembershipFactory(client=world.client_a, user=UserFactory(username=f"extra{n}"))
        services.invitation_create(
            user=world.a_admin,
            client=world.client_a,
            email=f"invitee{n}@example.com",
            role="VIEWER",
        )
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("portal:members"))
    assert len(response.context["sections"][0]["members"]) == 32
    assert len(few) >= 5  # the session, the person, the clients, members, invitations
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


# --- Inviting ------------------------------------------------------------------------------


def test_admin_invites_by_email_only_the_tokens_hash_is_kept(client, world):
    client.force_login(world.a_admin)
    response = _invite(client, world, role="ADMIN", follow=True)
    assert "Invitation sent to new.person@example.com" in _text(response)
    assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d UTC\.", _text(response))
    [message] = mail.outbox
    assert message.to == ["new.person@example.com"]
    assert message.subject == "You are invited to Alpha Logistics on the tracker platform"
    link = _link(message)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert len(token) >= 40
    assert link in message.alternatives[0][0]  # the HTML part has the same link
    invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert (invitation.role, invitation.invited_by) == ("ADMIN", world.a_admin)
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    assert token not in response.content.decode()  # the page after the form
    assert "new.person@example.com" in response.content.decode()  # listed as open
    audit = AuditEvent.objects.get(action="invitation.create")
    assert token not in str(audit.details) and audit.target == "new.person@example.com"


def test_invite_refuses_a_bad_address_naming_it_and_writes_nothing(client, world):
    client.force_login(world.a_admin)
    response = _invite(client, world, email="not-an-address")
    assert response.status_code == 400
    assert "Enter an e-mail address" in _text(response)
    assert not Invitation.objects.exists() and not mail.outbox
    with pytest.raises(ValidationError) as refused:
        services.invitation_create(
            user=world.a_admin, client=world.client_a, email="x@@y", role="VIEWER"
        )
    assert "“x@@y” is not an e-mail address." in refused.value.message_dict["email"]
    with pytest.raises(ValidationError) as refused:
        services.invitation_create(
            user=world.a_admin, client=world.client_a, email="a@example.com", role="OWNER"
        )
    assert "'OWNER' is not a role" in refused.value.message_dict["role"][0]


def test_invite_refuses_someone_who_is_a_member_already(client, world):
    client.force_login(world.a_admin)
    response = _invite(client, world, email=world.a_viewer.email.upper())
    assert response.status_code == 400
    # The address as given, its domain in lower case.
    assert "VICTOR@example.com is a member of Alpha Logistics already" in _text(response)
    assert not Invitation.objects.exists()


def test_a_new_invitation_to_the_same_address_withdraws_the_earlier(client, world):
    first = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="p@example.com", role="VIEWER"
    )
    second = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="P@example.com", role="ADMIN"
    )
    first.invitation.refresh_from_db()
    assert first.invitation.state() == Invitation.State.REVOKED
    assert second.invitation.state() == Invitation.State.OPEN
    response = client.get(reverse("portal:invitation", args=[first.token]))
    assert response.status_code == 410
    assert "withdrawn" in _text(response)


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise smtplib.SMTPRecipientsRefused({"x@example.com": (550, b"no such mailbox")})


def test_the_invitation_message_names_the_end_in_the_inviters_timezone(client, world):
    services.profile_timezone_set(user=world.a_admin, timezone_name="Asia/Kolkata")
    client.force_login(world.a_admin)
    response = _invite(client, world, follow=True)
    assert re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d IST\.", _text(response))
    assert "IST" in _text(response).split("Open invitations")[1]  # the list's times too


def test_an_invitation_whose_email_fails_is_withdrawn(client, world, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    client.force_login(world.a_admin)
    response = _invite(client, world, follow=True)
    assert "could not be sent" in _text(response)
    assert Invitation.objects.get().state() == Invitation.State.REVOKED


def test_viewer_cannot_invite_and_another_clients_admin_gets_404(client, world):
    client.force_login(world.a_viewer)
    assert _invite(client, world).status_code == 403
    client.force_login(world.b_admin)
    assert _invite(client, world).status_code == 404
    assert not Invitation.objects.exists() and not mail.outbox
    with pytest.raises(PermissionDenied):
        services.invitation_create(
            user=world.a_viewer, client=world.client_a, email="z@example.com", role="VIEWER"
        )


# --- Accepting: the link --------------------------------------------------------------------


def test_new_person_sets_a_password_joins_and_the_link_works_once(client, world):
    issued = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="Nina@Example.com", role="VIEWER"
    )
    response = client.get(reverse("portal:invitation", args=[issued.token]))
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:invitation-accept")  # no token in it
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert issued.token not in page.content.decode()
    assert "Create account and join" in page.content.decode()

    done = client.post(
        reverse("portal:invitation-accept"),
        {"username": "nina", "password1": "orchard-lantern-93", "password2": "orchard-lantern-93"},
    )
    assert done.status_code == 302 and done["Location"] == reverse("login")
    nina = User.objects.get(username="nina")
    assert nina.email == "Nina@example.com" and nina.check_password("orchard-lantern-93")
    assert Membership.objects.get(user=nina).role == "VIEWER"
    issued.invitation.refresh_from_db()
    assert issued.invitation.accepted_by == nina
    assert {"membership.create", "invitation.accept"} <= set(
        AuditEvent.objects.values_list("action", flat=True)
    )

    logged_in = client.post(
        reverse("login"), {"username": "nina", "password": "orchard-lantern-93"}, follow=True
    )
    assert logged_in.status_code == 200 and logged_in.context["user"] == nina
    client.post(reverse("logout"))

    again = client.get(reverse("portal:invitation", args=[issued.token]))
    assert again.status_code == 410
    assert "This invitation was used already" in _text(again)
    assert client.post(reverse("portal:invitation-accept"), {}).status_code == 404


def test_weak_password_or_taken_username_is_refused_and_nothing_is_written(client, world):
    UserFactory(username="taken", email="someone.else@example.com")
    issued = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="o@example.com", role="VIEWER"
    )
    client.get(reverse("portal:invitation", args=[issued.token]))
    accept = reverse("portal:invitation-accept")
    weak = client.post(accept, {"username": "olga", "password1": "123", "password2": "123"})
    assert weak.status_code == 200
    assert "This password is too short" in _text(weak)
    differ = client.post(
        accept, {"username": "olga", "password1": "long-pass-abc1", "password2": "long-pass-abc2"}
    )
    assert "The two passwords differ." in _text(differ)
    taken = client.post(
        accept, {"username": "taken", "password1": "long-pass-abc1", "password2": "long-pass-abc1"}
    )
    assert "A user with that username already exists." in _text(taken)
    assert not User.objects.filter(email="o@example.com").exists()
    issued.invitation.refresh_from_db()
    assert issued.invitation.state() == Invitation.State.OPEN


def test_expired_withdrawn_and_unknown_links_are_clear_pages(client, world):
    expired = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="e@example.com", role="VIEWER"
    )
    Invitation.objects.filter(pk=expired.invitation.pk).update(expires_at=timezone.now())
    withdrawn = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="w@example.com", role="VIEWER"
    )
    services.invitation_revoke(user=world.a_admin, invitation=withdrawn.invitation)
    cases = [
        (expired.token, 410, "This invitation has expired"),
        (withdrawn.token, 410, "This invitation was withdrawn"),
        ("never-issued-" + "x" * 40, 404, "This invitation link does not work"),
    ]
    for token, status, heading in cases:
        response = client.get(reverse("portal:invitation", args=[token]))
        assert response.status_code == status
        assert heading in _text(response)
        assert token not in response.content.decode()


def test_a_link_that_expires_between_opening_and_accepting_is_refused(client, world):
    issued = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="late@example.com", role="VIEWER"
    )
    client.get(reverse("portal:invitation", args=[issued.token]))
    Invitation.objects.filter(pk=issued.invitation.pk).update(expires_at=timezone.now())
    response = client.post(
        reverse("portal:invitation-accept"),
        {"username": "late", "password1": "long-pass-abc1", "password2": "long-pass-abc1"},
    )
    assert response.status_code == 410
    assert not User.objects.filter(username="late").exists()
    with pytest.raises(services.InvitationClosed):
        services.invitation_accept(invitation=issued.invitation, username="l", password="x")


def test_person_with_an_account_logs_in_then_joins(client, world):
    issued = services.invitation_create(
        user=world.b_admin, client=world.client_b, email=world.a_viewer.email, role="ADMIN"
    )
    client.get(reverse("portal:invitation", args=[issued.token]))
    page = client.get(reverse("portal:invitation-accept"))
    assert "An account with this address exists already" in _text(page)
    assert "set-password" not in page.content.decode()
    login = client.post(
        reverse("login") + "?next=" + reverse("portal:invitation-accept"),
        {
            "username": "victor",
            "password": "pass-for-tests",
            "next": reverse("portal:invitation-accept"),
        },
    )
    assert login["Location"] == reverse("portal:invitation-accept")
    assert "Join Bravo Retail" in _text(client.get(login["Location"]))
    joined = client.post(reverse("portal:invitation-accept"))
    assert joined.status_code == 302
    assert Membership.objects.get(user=world.a_viewer, client=world.client_b).role == "ADMIN"
    assert Membership.objects.get(user=world.a_viewer, client=world.client_a).role == "VIEWER"


def test_someone_logged_in_as_another_person_cannot_accept(client, world):
    issued = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="q@example.com", role="ADMIN"
    )
    client.force_login(world.b_admin)
    client.get(reverse("portal:invitation", args=[issued.token]))
    response = client.post(reverse("portal:invitation-accept"))
    assert response.status_code == 403
    assert "this invitation is for q@example.com" in _text(response)
    assert not Membership.objects.filter(user=world.b_admin, client=world.client_a).exists()


# --- Roles and removal ---------------------------------------------------------------------


def test_admin_changes_a_role_and_removes_a_member(client, world):
    viewer = Membership.objects.get(user=world.a_viewer)
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:member-role", args=[viewer.pk]), {"role": "ADMIN"}, follow=True
    )
    assert "victor is now admin of Alpha Logistics" in _text(response)
    viewer.refresh_from_db()
    assert viewer.role == "ADMIN"
    response = client.post(reverse("portal:member-remove", args=[viewer.pk]), follow=True)
    assert "victor is no longer a member of Alpha Logistics" in _text(response)
    assert not Membership.objects.filter(pk=viewer.pk).exists()
    actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert "membership.update" in actions and "membership.delete" in actions


def test_last_admin_cannot_be_demoted_or_removed(client, world):
    admin = Membership.objects.get(user=world.a_admin)
    client.force_login(world.a_admin)
    demoted = client.post(
        reverse("portal:member-role", args=[admin.pk]), {"role": "VIEWER"}, follow=True
    )
    message = "alice is the last admin of Alpha Logistics, so cannot be made a viewer"
    assert message in _text(demoted)
    removed = client.post(reverse("portal:member-remove", args=[admin.pk]), follow=True)
    assert "alice is the last admin of Alpha Logistics, so cannot be removed" in _text(removed)
    admin.refresh_from_db()
    assert admin.role == "ADMIN"

    # With a second admin, the first may step down.
    services.member_role_set(
        user=world.a_admin, membership=Membership.objects.get(user=world.a_viewer), role="ADMIN"
    )
    services.member_remove(user=world.a_admin, membership=admin)
    assert not Membership.objects.filter(user=world.a_admin).exists()


def test_bad_role_is_refused_by_name(client, world):
    viewer = Membership.objects.get(user=world.a_viewer)
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:member-role", args=[viewer.pk]), {"role": "OWNER"}, follow=True
    )
    assert "“OWNER” is not a role." in _text(response)
    viewer.refresh_from_db()
    assert viewer.role == "VIEWER"


# --- The token never reaches the logs --------------------------------------------------------


@pytest.fixture
def console_log():
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, SecretPathLogFilter) for f in h.filters)
    ]
    stream = io.StringIO()
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_invitation_tokens_are_masked_in_logs(client, world, console_log):
    issued = services.invitation_create(
        user=world.a_admin, client=world.client_a, email="m@example.com", role="VIEWER"
    )
    Invitation.objects.filter(pk=issued.invitation.pk).update(expires_at=timezone.now())
    client.get(reverse("portal:invitation", args=[issued.token]))  # 410 is logged
    client.get(reverse("portal:invitation", args=["unknown-" + "y" * 40]))  # 404 is logged
    written = console_log.getvalue()
    assert "/invitations/[token]/" in written
    assert issued.token not in written and "y" * 40 not in written

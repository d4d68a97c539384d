"""Writes of members and accounts: a person's timezone, roles, removals and invitations.

Every function is keyword-only and atomic."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.base_user import BaseUserManager
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from ..models import (
    INVITATION_VALID_DAYS,
    Client,
    Invitation,
    Membership,
    Profile,
)
from .tenancy import (
    _require_admin,
    _tenancy_actor,
    _tenancy_audit,
    _tenancy_save,
    membership_delete,
)

# --- Members and accounts ------------------------------------------------------------------


@transaction.atomic
def profile_timezone_set(*, user, timezone_name: str) -> Profile:
    """The person's own timezone ("" for the site's); the profile is made on first use."""
    profile, _ = Profile.objects.select_for_update().get_or_create(user=user)
    profile.timezone_name = (timezone_name or "").strip()
    profile.full_clean()
    profile.save(update_fields=["timezone_name"])
    return profile


# Members of a client: its admins invite people by e-mail, change roles and remove members.
# A client keeps at least one admin: the last one can be neither demoted nor removed.


def _last_admin_check(*, membership: Membership, becomes: str | None) -> None:
    """Refuse to leave `membership`'s client without an admin (`becomes`: the new role, None
    for removal). The client's admin rows are locked, so two admins demoting each other at
    once cannot both succeed."""
    if membership.role != Membership.Role.ADMIN or becomes == Membership.Role.ADMIN:
        return
    admins = list(
        Membership.objects.select_for_update()
        .filter(client_id=membership.client_id, role=Membership.Role.ADMIN)
        .values_list("pk", flat=True)
    )
    if admins == [membership.pk]:
        name = membership.user.get_username()
        what = "removed" if becomes is None else "made a viewer"
        raise ValidationError(
            {
                "role": f"{name} is the last admin of {membership.client}, so cannot be {what}; "
                "make another member admin first."
            }
        )


@transaction.atomic
def member_role_set(*, user, membership: Membership, role: str) -> Membership:
    """Change a member's role, by an admin of the member's client."""
    _require_admin(user=user, client=membership.client)
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"{role!r} is not a role ({', '.join(Membership.Role)})."})
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "client")
        .get(pk=membership.pk)
    )
    if membership.role == role:
        return membership
    _last_admin_check(membership=membership, becomes=role)
    before = membership.role
    membership.role = role
    return _tenancy_save(membership, action="membership", user=user, client=membership.client,
                         target=membership.user.get_username(), role=role,
                         before=before)  # fmt: skip


@transaction.atomic
def member_remove(*, user, membership: Membership) -> None:
    """Take a member out of the client, by an admin of that client (themselves included,
    unless they are its last admin)."""
    _require_admin(user=user, client=membership.client)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user", "client")
        .get(pk=membership.pk)
    )
    _last_admin_check(membership=membership, becomes=None)
    membership_delete(membership=membership, user=user)


def invitation_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # in the e-mail's link only, never stored


@transaction.atomic
def invitation_create(
    *, user, client: Client, email: str, role: str, now: datetime | None = None
) -> IssuedInvitation:
    """An invitation to `client` with `role` for the person at `email`, by one of its admins.
    An open invitation to the same address is withdrawn (the newest link is the one that
    works). The token is returned once, for the e-mail; only its hash is kept."""
    _require_admin(user=user, client=client)
    now = now or timezone.now()
    email = BaseUserManager.normalize_email((email or "").strip())
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"“{email}” is not an e-mail address."}) from None
    if role not in Membership.Role.values:
        raise ValidationError({"role": f"{role!r} is not a role ({', '.join(Membership.Role)})."})
    if Membership.objects.filter(client=client, user__email__iexact=email).exists():
        raise ValidationError({"email": f"{email} is a member of {client} already."})
    for earlier in (
        Invitation.objects.select_for_update().open(now).filter(client=client, email__iexact=email)
    ):
        earlier.revoked_at = now
        earlier.save(update_fields=["revoked_at"])
        _tenancy_audit("invitation.revoke", user=user, client=client, target=earlier.email,
                       invitation=earlier.pk, replaced=True)  # fmt: skip
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        client=client,
        email=email,
        role=role,
        token_hash=invitation_hash(token),
        invited_by=_tenancy_actor(user),
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_VALID_DAYS),
    )
    invitation.full_clean()
    invitation.save()
    _tenancy_audit("invitation.create", user=user, client=client, target=email,
                   invitation=invitation.pk, role=role,
                   expires_at=invitation.expires_at.isoformat())  # fmt: skip
    return IssuedInvitation(invitation=invitation, token=token)


def invitation_email_send(*, issued: IssuedInvitation, accept_url: str) -> None:
    """The invitation's e-mail, the one place its link is written. Raises what the mail
    backend raises (the caller withdraws the invitation then)."""
    invitation = issued.invitation
    context = {
        "invitation": invitation,
        "client": invitation.client,
        "inviter": invitation.invited_by,
        "accept_url": accept_url,
    }
    message = EmailMultiAlternatives(
        subject=f"You are invited to {invitation.client} on the tracker platform",
        body=render_to_string("email/invitation.txt", context),
        to=[invitation.email],
    )
    message.attach_alternative(render_to_string("email/invitation.html", context), "text/html")
    message.send()


@transaction.atomic
def invitation_revoke(*, user, invitation: Invitation) -> Invitation:
    _require_admin(user=user, client=invitation.client)
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _tenancy_audit("invitation.revoke", user=user, client=invitation.client,
                       target=invitation.email, invitation=invitation.pk)  # fmt: skip
    return invitation


class InvitationClosed(Exception):
    """The invitation was accepted, withdrawn or has expired: its link works no more."""

    def __init__(self, invitation: Invitation, state: str):
        super().__init__(f"Invitation {invitation.pk} is {state.lower()}.")
        self.invitation, self.state = invitation, state


@transaction.atomic
def invitation_accept(
    *,
    invitation: Invitation,
    user=None,
    username: str = "",
    password: str = "",
    now: datetime | None = None,
) -> Membership:
    """Accept an invitation: as `user` (logged in, with the invited address), or as a new
    person with `username` and `password`. Makes the membership with the invited role (a
    person who is a member already keeps their role). Works once: the invitation row is
    locked, and a second acceptance raises InvitationClosed."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update().select_related("client").get(pk=invitation.pk)
    )
    state = invitation.state(now)
    if state != Invitation.State.OPEN:
        raise InvitationClosed(invitation, state)
    User = get_user_model()
    if user is not None:
        if (user.email or "").lower() != invitation.email.lower():
            raise ValidationError(
                f"This invitation is for {invitation.email}; you are logged in as "
                f"{user.get_username()}."
            )
        member = user
    else:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError(
                {"username": f"{invitation.email} has an account already: log in to accept."}
            )
        member = User(username=(username or "").strip(), email=invitation.email)
        member.set_unusable_password()
        member.full_clean()  # the username's rules and uniqueness, named by field
        try:
            password_validation.validate_password(password, member)
        except ValidationError as exc:
            raise ValidationError({"password1": exc.messages}) from None
        member.set_password(password)
        member.save()
    membership = Membership.objects.filter(user=member, client=invitation.client).first()
    if membership is None:
        membership = Membership(user=member, client=invitation.client, role=invitation.role)
        _tenancy_save(membership, action="membership", user=member, client=invitation.client,
                      target=member.get_username(), role=invitation.role,
                      invitation=invitation.pk)  # fmt: skip
    invitation.accepted_at = now
    invitation.accepted_by = member
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    _tenancy_audit("invitation.accept", user=member, client=invitation.client,
                   target=invitation.email, invitation=invitation.pk,
                   role=membership.role)  # fmt: skip
    return membership

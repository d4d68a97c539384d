"""Portal: the members of the user's clients. Everyone sees the members of their clients and
their roles; a client's admins invite people by e-mail, change roles, remove members and
withdraw invitations (viewers: 403; another client's: 404). The invitation's link
(/invitations/<token>/) is opened without an account: it moves the token into the session
(so the page's address, and any Referer, no longer holds it) and leads to the page that
accepts it, by setting a password or, with an account, by logging in."""

import smtplib

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.timezone import localtime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..models import Client, Invitation, Membership

CLIENTS_PER_PAGE = 20
SESSION_TOKEN = "invitation_token"


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        error_messages={"invalid": "Enter an e-mail address, like name@example.com."},
    )
    role = forms.ChoiceField(
        label="Role",
        choices=Membership.Role.choices,
        initial=Membership.Role.VIEWER,
        help_text="Viewers see everything of the client; admins also change it and its members.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


def _require_admin(user, client: Client) -> None:
    if not selectors.administered_client_list(user=user).filter(pk=client.pk).exists():
        raise PermissionDenied("Only the client's admins change its members.")


def _directory(request, *, invite_forms: dict | None = None):
    clients_page = Paginator(
        selectors.member_client_list(user=request.user), CLIENTS_PER_PAGE
    ).get_page(request.GET.get("page"))
    clients = list(clients_page)
    administered = set(
        selectors.administered_client_list(user=request.user)
        .filter(pk__in=[c.pk for c in clients])
        .values_list("pk", flat=True)
    )
    members: dict[int, list] = {c.pk: [] for c in clients}
    for membership in selectors.member_list(user=request.user, clients=clients):
        members[membership.client_id].append(membership)
    invitations: dict[int, list] = {c.pk: [] for c in clients}
    for invitation in selectors.invitation_list(user=request.user, clients=clients):
        invitations[invitation.client_id].append(invitation)
    invite_forms = invite_forms or {}
    sections = [
        {
            "client": client,
            "members": members[client.pk],
            "admin_count": sum(m.role == Membership.Role.ADMIN for m in members[client.pk]),
            "is_admin": client.pk in administered,
            "invitations": invitations[client.pk],
            "invite_form": invite_forms.get(client.pk) or InviteForm(auto_id=f"id_{client.pk}_%s"),
        }
        for client in clients
    ]
    return render(
        request,
        "portal/members.html",
        {"sections": sections, "page": clients_page, "roles": Membership.Role.choices},
    )


@login_required
def members(request):
    return _directory(request)


@login_required
@require_POST
def member_invite(request, pk: int):
    client = selectors.get_visible_or_404(Client.objects.all(), request.user, pk=pk)
    _require_admin(request.user, client)
    form = InviteForm(request.POST, auto_id=f"id_{client.pk}_%s")
    if form.is_valid():
        try:
            issued = services.invitation_create(
                user=request.user,
                client=client,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            accept_url = request.build_absolute_uri(
                reverse("portal:invitation", args=[issued.token])
            )
            try:
                services.invitation_email_send(issued=issued, accept_url=accept_url)
            except (smtplib.SMTPException, OSError) as exc:
                services.invitation_revoke(user=request.user, invitation=issued.invitation)
                messages.error(
                    request,
                    f"The e-mail to {issued.invitation.email} could not be sent ({exc}); "
                    "the invitation is withdrawn. Try again later.",
                )
            else:
                messages.success(
                    request,
                    f"Invitation sent to {issued.invitation.email} "
                    f"({issued.invitation.get_role_display()} of {client}); "
                    f"its link works once, until "
                    f"{date_format(localtime(issued.invitation.expires_at), 'Y-m-d H:i T')}.",
                )
            return redirect(f"{reverse('portal:members')}#client-{client.pk}")
    response = _directory(request, invite_forms={client.pk: form})
    response.status_code = 400
    return response


@login_required
@require_POST
def member_role(request, pk: int):
    membership = selectors.membership_get(user=request.user, pk=pk)
    _require_admin(request.user, membership.client)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"“{request.POST.get('role', '')}” is not a role.")
    else:
        try:
            services.member_role_set(
                user=request.user, membership=membership, role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            role = Membership.Role(form.cleaned_data["role"]).label
            messages.success(
                request,
                f"{membership.user.get_username()} is now {role.lower()} of {membership.client}.",
            )
    return redirect(f"{reverse('portal:members')}#client-{membership.client_id}")


@login_required
@require_POST
def member_remove(request, pk: int):
    membership = selectors.membership_get(user=request.user, pk=pk)
    _require_admin(request.user, membership.client)
    try:
        services.member_remove(user=request.user, membership=membership)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{membership.user.get_username()} is no longer a member of {membership.client}.",
        )
    return redirect(f"{reverse('portal:members')}#client-{membership.client_id}")


@login_required
@require_POST
def invitation_revoke(request, pk: int):
    invitation = selectors.invitation_get(user=request.user, pk=pk)
    _require_admin(request.user, invitation.client)
    services.invitation_revoke(user=request.user, invitation=invitation)
    messages.success(request, f"The invitation for {invitation.email} is withdrawn.")
    return redirect(f"{reverse('portal:members')}#client-{invitation.client_id}")


# --- The invitation's link -------------------------------------------------------------------


def _closed(request, invitation: Invitation | None, state: str = ""):
    """The page for a link that does not work (any more): clear, never a 500."""
    return render(
        request,
        "portal/invitation_closed.html",
        {"invitation": invitation, "state": state},
        status=404 if invitation is None else 410,
    )


@never_cache
def invitation(request, token: str):
    """The e-mail's link: check it, keep the token in the session, continue without it in
    the address."""
    found = selectors.invitation_by_token_hash(token_hash=services.invitation_hash(token))
    if found is None:
        return _closed(request, None)
    state = found.state()
    if state != Invitation.State.OPEN:
        return _closed(request, found, state)
    request.session[SESSION_TOKEN] = token
    return redirect("portal:invitation-accept")


class AcceptForm(forms.Form):
    username = forms.CharField(
        label="Username",
        max_length=150,
        help_text="You log in with it. Letters, digits and @ . + - _ only.",
    )
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password2") != data.get("password1"):
            self.add_error("password2", "The two passwords differ.")
        return data


@never_cache
def invitation_accept(request):
    token = request.session.get(SESSION_TOKEN)
    found = (
        selectors.invitation_by_token_hash(token_hash=services.invitation_hash(token))
        if token
        else None
    )
    if found is None:
        return _closed(request, None)
    state = found.state()
    if state != Invitation.State.OPEN:
        request.session.pop(SESSION_TOKEN, None)
        return _closed(request, found, state)
    has_account = get_user_model().objects.filter(email__iexact=found.email).exists()
    user = request.user
    form = None
    if user.is_authenticated:
        if (user.email or "").lower() != found.email.lower():
            return render(
                request,
                "portal/invitation_accept.html",
                {"invitation": found, "wrong_person": True},
                status=403,
            )
        if request.method == "POST":
            return _accepted(request, found, user=user)
    elif has_account:
        pass  # the page asks them to log in; the token waits in the session
    else:
        form = AcceptForm(request.POST or None, initial={"username": found.email.split("@")[0]})
        if request.method == "POST" and form.is_valid():
            try:
                return _accepted(
                    request,
                    found,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
    return render(
        request,
        "portal/invitation_accept.html",
        {
            "invitation": found,
            "form": form,
            "has_account": has_account,
            "login_url": f"{reverse('login')}?next={reverse('portal:invitation-accept')}",
        },
    )


def _accepted(request, invitation: Invitation, **who):
    try:
        membership = services.invitation_accept(invitation=invitation, **who)
    except services.InvitationClosed as closed:
        request.session.pop(SESSION_TOKEN, None)
        return _closed(request, closed.invitation, closed.state)
    request.session.pop(SESSION_TOKEN, None)
    client, role = membership.client, membership.get_role_display().lower()
    if request.user.is_authenticated:
        messages.success(request, f"You are now {role} of {client}.")
        return redirect("portal:dashboard")
    messages.success(
        request,
        f"Your account is ready and you are {role} of {client}: "
        f"log in as {membership.user.get_username()}.",
    )
    return redirect("login")

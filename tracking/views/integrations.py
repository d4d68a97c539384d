"""Portal: the API keys and webhooks page of a client's admins."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..models import Membership


class ApiKeyForm(forms.Form):
    client = forms.ModelChoiceField(queryset=None, empty_label=None)
    name = forms.CharField(max_length=100, help_text="Which system uses it, e.g. “WMS sync”.")
    role = forms.ChoiceField(
        choices=Membership.Role.choices,
        initial=Membership.Role.VIEWER,
        help_text="Viewer reads; Admin may also change places and webhooks.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["client"].queryset = selectors.administered_client_list(user=user)


@login_required
def integrations(request):
    """API keys and webhooks of the clients the user administers: make a key (its secret is
    shown once, on the page that answers the form), revoke one, see failing webhooks."""
    clients = selectors.administered_client_list(user=request.user)
    form = ApiKeyForm(request.POST or None, user=request.user)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.api_key_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            form = ApiKeyForm(user=request.user)
    return render(
        request,
        "portal/integrations.html",
        {
            "clients": clients,
            "form": form,
            "issued": issued,
            "keys": selectors.api_key_list(user=request.user),
            "webhooks": selectors.webhook_list(user=request.user).filter(client__in=clients),
        },
    )


@login_required
@require_POST
def api_key_revoke(request, pk: int):
    key = selectors.api_key_get(user=request.user, pk=pk)
    services.api_key_revoke(user=request.user, key=key)
    messages.success(request, f"The key “{key.name}” is revoked; it no longer works.")
    return redirect("portal:integrations")

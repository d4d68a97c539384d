"""Portal: the person's own account: their timezone (every time in the portal follows it) and
the way to their password."""

import hashlib
import logging

from axes.helpers import get_client_ip_address
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render

from .. import ratelimit, selectors, services
from ..timezones import remember_timezone, timezone_names

logger = logging.getLogger(__name__)


def _timezone_choices() -> list[tuple[str, str]]:
    site = f"The site's timezone ({settings.TIME_ZONE})"
    return [("", site), *((name, name.replace("_", " ")) for name in sorted(timezone_names()))]


class TimezoneForm(forms.Form):
    timezone_name = forms.ChoiceField(
        label="Timezone",
        required=False,
        help_text="Every time in the portal and in your alert e-mails is shown in it.",
        error_messages={
            "invalid_choice": "“%(value)s” is not a timezone name; choose one from the list "
            "(for example Europe/Vienna or America/Los_Angeles)."
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["timezone_name"].choices = _timezone_choices()


@login_required
def account(request):
    profile = selectors.profile_get(user=request.user)
    form = TimezoneForm(
        request.POST or None,
        initial={"timezone_name": profile.timezone_name if profile else ""},
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile = services.profile_timezone_set(
                user=request.user, timezone_name=form.cleaned_data["timezone_name"]
            )
        except ValidationError as exc:
            form.add_error("timezone_name", exc.message_dict.get("timezone_name", exc.messages))
        else:
            remember_timezone(request, profile.timezone_name)
            shown = profile.timezone_name or f"the site's timezone ({settings.TIME_ZONE})"
            messages.success(request, f"Times are now shown in {shown}.")
            return redirect("portal:account")
    return render(
        request,
        "portal/account.html",
        {"form": form, "memberships": selectors.membership_list(user=request.user)},
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, with budgets per address and per client address an hour (see
    PASSWORD_RESET_RATE_*): over either, the same answer as always and no e-mail."""

    def form_valid(self, form):
        address = form.cleaned_data["email"].strip().lower()
        address_key = hashlib.sha256(address.encode()).hexdigest()[:32]
        ip = get_client_ip_address(self.request) or "unknown"
        over = ratelimit.hit(
            scope="password-reset-ip",
            key=ip,
            limit=settings.PASSWORD_RESET_RATE_PER_IP,
            window_seconds=3600,
        ) or ratelimit.hit(
            scope="password-reset-address",
            key=address_key,
            limit=settings.PASSWORD_RESET_RATE_PER_ADDRESS,
            window_seconds=3600,
        )
        if over:
            logger.warning("password reset not sent: over the hourly budget (%s)", address_key)
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)

"""Portal: the person's own account: their timezone (every time in the portal follows it) and
the way to their password."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from .. import selectors, services
from ..timezones import remember_timezone, timezone_names


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

"""Portal: a client's share links. Its admins make a link to one tracker or one production run
(the URL is shown once, on the page that answers the form: only its hash is kept), see each
link's views and state, and revoke it. Viewers see the list only."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from .. import selectors, services
from ..models import ProductionRun, Tracker

ENDS = [
    ("run", "When the production run ends"),
    ("1", "In 1 day"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("at", "At a chosen time"),
]


class ShareLinkForm(forms.Form):
    target = forms.ChoiceField(label="Show")
    ends = forms.ChoiceField(label="Link ends", choices=ENDS, initial="7")
    expires_at = forms.DateTimeField(
        label="Chosen time",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    label = forms.CharField(
        label="Note",
        max_length=200,
        required=False,
        help_text="For you, not shown on the link's page: who it is for.",
    )

    def __init__(self, *args, runs, trackers, **kwargs):
        super().__init__(*args, **kwargs)
        self.runs = {str(run.pk): run for run in runs}
        self.trackers = {str(tracker.pk): tracker for tracker in trackers}
        self.fields["target"].choices = [
            ("Production runs", [(f"run:{pk}", str(run)) for pk, run in self.runs.items()]),
            (
                "Trackers",
                [
                    (f"tracker:{pk}", " · ".join(filter(None, [t.mac_address, t.label])))
                    for pk, t in self.trackers.items()
                ],
            ),
        ]
        self.fields[
            "expires_at"
        ].help_text = f"With “At a chosen time”; in {timezone.get_current_timezone_name()}."

    def clean(self):
        data = super().clean()
        kind, _, pk = (data.get("target") or "").partition(":")
        data["tracker"] = self.trackers.get(pk) if kind == "tracker" else None
        data["production_run"] = self.runs.get(pk) if kind == "run" else None
        ends = data.get("ends")
        if ends == "at" and data.get("expires_at") is None:
            self.add_error("expires_at", "Give the time the link ends.")
        elif ends and ends.isdigit():
            data["expires_at"] = timezone.now() + timedelta(days=int(ends))
        elif ends == "run":
            data["expires_at"] = None
        return data

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        target = data["tracker"] or data["production_run"]
        client = target.client
        return {
            "client": client,
            "tracker": data["tracker"],
            "production_run": data["production_run"],
            "expires_at": data["expires_at"],
            "until_run_end": data["ends"] == "run",
            "label": data["label"],
        }


def _preselected(request) -> str:
    """?tracker=<pk> or ?run=<pk> from the tracker and run pages; another client's answers
    404 like a missing one."""
    for parameter, kind, model in (("tracker", "tracker", Tracker), ("run", "run", ProductionRun)):
        value = request.GET.get(parameter)
        if value is None:
            continue
        if not value.isdigit():
            raise Http404(f"No {parameter} {value!r}.")
        selectors.get_visible_or_404(model.objects.all(), request.user, pk=int(value))
        return f"{kind}:{value}"
    return ""


@never_cache  # the answer to the form holds the link's URL
@login_required
def share_links(request):
    preselected = _preselected(request)
    administered = selectors.administered_client_list(user=request.user)
    can_share = administered.exists()
    if request.method == "POST" and not can_share:
        raise PermissionDenied("Only a client's admins make share links.")
    form = issued = None
    if can_share:
        form_arguments = {
            "runs": selectors.production_run_list(user=request.user).filter(
                brand__client__in=administered
            ),
            "trackers": selectors.tracker_list(user=request.user).filter(client__in=administered),
        }
        form = ShareLinkForm(
            request.POST or None, initial={"target": preselected}, **form_arguments
        )
        if request.method == "POST" and form.is_valid():
            try:
                issued = services.share_link_create(user=request.user, **form.service_arguments())
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form = ShareLinkForm(**form_arguments)
    return render(
        request,
        "portal/share_links.html",
        {
            "form": form,
            "issued": issued,
            "issued_url": (
                request.build_absolute_uri(reverse("portal:share-page", args=[issued.token]))
                if issued
                else ""
            ),
            "links": selectors.share_link_list(user=request.user),
            "administered": set(administered.values_list("pk", flat=True)),
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def share_link_revoke(request, pk: int):
    link = selectors.share_link_get(user=request.user, pk=pk)
    services.share_link_revoke(user=request.user, link=link)
    messages.success(request, f"The link “{link}” is revoked; it no longer opens.")
    return redirect("portal:share-links")

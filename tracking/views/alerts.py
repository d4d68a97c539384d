"""Portal: customer alerts. Each member's own subscriptions (/alerts/), a client's rules for
its admins (/alerts/clients/<id>/rules/), and the person's notifications (/notifications/)."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .. import alert_emails, alerts, selectors
from ..models import AlertRule, AlertSubscription, Client, Event, ProductionRun

HOURS = [(hour, f"{hour:02d}:00") for hour in range(24)]


def _run_choices(client: Client):
    return ProductionRun.objects.filter(brand__client=client).order_by("-starts_at")


class SubscriptionForm(forms.Form):
    delivery = forms.ChoiceField(
        choices=AlertSubscription.Delivery.choices,
        widget=forms.RadioSelect,
        label="How you get alerts",
    )
    digest_hour = forms.TypedChoiceField(
        choices=HOURS, coerce=int, initial=8, label="Digest at (your time)"
    )
    all_runs = forms.BooleanField(required=False, initial=True, label="Follow every run")
    production_runs = forms.ModelMultipleChoiceField(
        queryset=ProductionRun.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Or only these runs",
    )

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["production_runs"].queryset = _run_choices(client)


class RuleForm(forms.Form):
    event_types = forms.MultipleChoiceField(
        choices=Event.Type.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Alerts that are on",
    )
    all_runs = forms.BooleanField(required=False, initial=True, label="For every run")
    production_runs = forms.ModelMultipleChoiceField(
        queryset=ProductionRun.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Or only for these runs",
    )
    silent_after_hours = forms.IntegerField(
        min_value=1,
        max_value=24 * 90,
        label="Silent after (hours)",
        help_text="A tracker without a report for this long is announced as silent.",
    )

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["production_runs"].queryset = _run_choices(client)


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


@login_required
def alert_settings(request):
    """The person's subscriptions, one form per client they are a member of."""
    rows = []
    posted = request.POST.get("client") if request.method == "POST" else None
    for membership, subscription in selectors.alert_subscription_list(user=request.user):
        client = membership.client
        initial = {"delivery": AlertSubscription.Delivery.OFF, "digest_hour": 8, "all_runs": True}
        if subscription is not None:
            initial = {
                "delivery": subscription.delivery,
                "digest_hour": subscription.digest_hour,
                "all_runs": subscription.all_runs,
                "production_runs": list(subscription.production_runs.all()),
            }
        prefix = f"c{client.pk}"
        if posted == str(client.pk):
            form = SubscriptionForm(request.POST, client=client, prefix=prefix, initial=initial)
            if form.is_valid():
                try:
                    alerts.alert_subscription_save(
                        user=request.user, client=client, **form.cleaned_data
                    )
                except ValidationError as exc:
                    _add_errors(form, exc)
                else:
                    messages.success(request, f"Your alerts of {client} are saved.")
                    return redirect("portal:alerts")
        else:
            form = SubscriptionForm(client=client, prefix=prefix, initial=initial)
        rows.append({"membership": membership, "client": client, "form": form})
    administered = selectors.administered_client_list(user=request.user)
    if not request.user.is_staff:
        administered = administered.filter(memberships__user=request.user)
    return render(
        request,
        "portal/alerts.html",
        {
            "rows": rows,
            "administered": administered,
            "timezone": alert_emails.recipient_timezone(request.user),
        },
    )


@login_required
def alert_rules(request, pk: int):
    """A client's alert rules: its admins (and staff) change them; its viewers may not (403)."""
    client = selectors.alert_client_get(user=request.user, pk=pk)
    if not Client.objects.administered_by(request.user).filter(pk=client.pk).exists():
        raise PermissionDenied("Only an admin of this client may change its alerts.")
    rule = AlertRule.objects.filter(client=client).first()
    initial = {"event_types": [], "all_runs": True, "silent_after_hours": client.silent_after_hours}
    if rule is not None:
        initial.update(
            event_types=rule.event_types,
            all_runs=rule.all_runs,
            production_runs=list(rule.production_runs.all()),
        )
    form = RuleForm(request.POST or None, client=client, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            alerts.alert_rule_save(user=request.user, client=client, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"The alerts of {client} are saved.")
            return redirect("portal:alert-rules", pk=client.pk)
    return render(request, "portal/alert_rules.html", {"client": client, "form": form})


@login_required
def notification_list(request):
    page = Paginator(selectors.notification_list(user=request.user), 50).get_page(
        request.GET.get("page")
    )
    items = alert_emails.describe(list(page.object_list))
    return render(
        request,
        "portal/notifications.html",
        {"page": page, "items": items, "unread": alerts.unread_count(request.user)},
    )


@login_required
@require_POST
def notification_read(request, pk: int):
    # Another person's answers like a missing one; one already read is left as it is.
    if not selectors.notification_list(user=request.user).filter(pk=pk).exists():
        raise Http404("No such notification.")
    alerts.notifications_mark_read(user=request.user, ids=[pk])
    return redirect("portal:notifications")


@login_required
@require_POST
def notifications_read_all(request):
    marked = alerts.notifications_mark_read(user=request.user)
    messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read.")
    return redirect("portal:notifications")

"""Staff screens: Apple accounts (tokens never shown), the fetch log and fetch health."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.debug import sensitive_post_parameters

from tracking.admin import MacSearchMixin, ReadOnlyAdminMixin

from . import login, services
from .gsa import SMS, TRUSTED_DEVICE, LoginError
from .models import AccountSession, AppleAccount, FetchRun, TrackerFetchState


class AppleAccountForm(forms.ModelForm):
    """Either upload a FindMy.py session JSON, or enter dsid and token by hand.

    The token field is write-only: it is never filled in from the stored session.
    """

    session_file = forms.FileField(
        required=False, help_text="A FindMy.py session JSON (account.to_json())."
    )
    dsid = forms.CharField(required=False, help_text="Manual entry: the account's dsid.")
    search_party_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Manual entry: the searchPartyToken. Leave empty to keep the stored one.",
    )
    anisette_url = forms.URLField(
        required=False,
        assume_scheme="http",
        help_text="Anisette server; empty means the ANISETTE_URL setting.",
    )

    class Meta:
        model = AppleAccount
        fields = ["name", "is_enabled"]

    def clean(self):
        data = super().clean()
        upload = data.get("session_file")
        if upload:
            try:
                # One byte past the cap is enough for the parser to refuse the size.
                raw = upload.read(services.SESSION_MAX_BYTES + 1)
                data["session"] = services.parse_session_json(raw)
            except services.InvalidSession as exc:
                raise forms.ValidationError({"session_file": str(exc)}) from exc
        elif data.get("dsid") or data.get("search_party_token"):
            if not (data.get("dsid") and data.get("search_party_token")):
                raise forms.ValidationError("Enter both the dsid and the search-party token.")
            data["session"] = AccountSession(
                dsid=data["dsid"],
                search_party_token=data["search_party_token"],
                anisette_url=data.get("anisette_url") or "",
            )
        elif not self.instance.pk:
            raise forms.ValidationError(
                "Upload a session JSON or enter the dsid and the search-party token."
            )
        return data


class LoginStartForm(forms.Form):
    """Step 1 of "Log in an Apple account"."""

    name = forms.CharField(
        max_length=200, help_text="The account's name here; an existing one is renewed."
    )
    username = forms.CharField(max_length=200, label="Apple ID")
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False)
    anisette_url = forms.URLField(
        required=False,
        assume_scheme="http",
        label="Anisette server",
        help_text="Empty means the ANISETTE_URL setting.",
    )
    keep_password = forms.BooleanField(
        required=False,
        initial=True,
        label="Keep the password (encrypted) so the account can log in again by itself",
    )


class LoginMethodForm(forms.Form):
    """Step 2: how Apple sends the code. Phone numbers are shown masked."""

    choice = forms.ChoiceField(widget=forms.RadioSelect, label="Send the code")

    def __init__(self, *args, step: login.LoginStep, **kwargs):
        super().__init__(*args, **kwargs)
        choices = []
        if TRUSTED_DEVICE in step.methods:
            choices.append((TRUSTED_DEVICE, "Show it on the account's trusted devices"))
        if SMS in step.methods:
            choices += [(f"sms:{p.id}", f"By SMS to {p.number}") for p in step.phones]
        self.fields["choice"].choices = choices
        if choices:
            self.fields["choice"].initial = choices[0][0]


class LoginCodeForm(forms.Form):
    code = forms.CharField(
        max_length=12,
        label="Code",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


@admin.register(AppleAccount)
class AppleAccountAdmin(admin.ModelAdmin):
    form = AppleAccountForm
    change_list_template = "admin/findmy/appleaccount/change_list.html"
    list_display = [
        "name",
        "health",
        "is_enabled",
        "requests_total",
        "errors_total",
        "reports_total",
        "last_success_at",
        "backoff_until",
        "last_error_short",
    ]
    list_filter = ["health", "is_enabled"]
    search_fields = ["name"]
    readonly_fields = [
        "dsid_display",
        "apple_login",
        "health",
        "next_request_at",
        "backoff_until",
        "consecutive_errors",
        "requests_total",
        "errors_total",
        "reports_total",
        "last_success_at",
        "last_error",
        "last_error_at",
        "created_at",
        "updated_at",
    ]
    actions = ["reset_health"]

    @method_decorator(sensitive_post_parameters("search_party_token", "dsid"))
    def changeform_view(self, request, *args, **kwargs):
        # An error page or log line never shows the token typed in (uploads are parsed
        # without ever raising, see services.parse_session_json).
        return super().changeform_view(request, *args, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        # A name is how sessions are re-imported; renaming would orphan the audit trail.
        return ["name", *self.readonly_fields] if obj else self.readonly_fields

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["name", "is_enabled"]}),
            ("Session: upload", {"fields": ["session_file"]}),
            ("Session: manual entry", {"fields": ["dsid", "search_party_token", "anisette_url"]}),
            ("Health", {"fields": AppleAccountAdmin.readonly_fields}),
        ]

    @admin.display(description="dsid")
    def dsid_display(self, obj):
        return obj.dsid if obj and obj.pk else "-"

    @admin.display(description="Apple login")
    def apple_login(self, obj):
        if not (obj and obj.pk):
            return "-"
        url = (
            reverse("admin:findmy_appleaccount_login")
            + "?"
            + urlencode({"name": obj.name, "username": obj.username})
        )
        if obj.username:
            kept = "password kept (encrypted)" if obj.keeps_password else "password not kept"
            text = f"Apple ID {obj.username}, {kept}. "
        else:
            text = "Session imported, not logged in here. "
        return format_html('{}<a href="{}">Log in again</a>', text, url)

    @admin.display(description="last error")
    def last_error_short(self, obj):
        return (obj.last_error or "")[:80]

    def save_model(self, request, obj, form, change):
        session = form.cleaned_data.get("session")
        if session is not None:
            saved = services.account_save_session(
                name=obj.name,
                session=session,
                user=request.user,
                source="admin upload" if form.cleaned_data.get("session_file") else "admin",
            )
            obj.pk = saved.pk
        if obj.pk is not None:
            current = AppleAccount.objects.get(pk=obj.pk)
            if current.is_enabled != obj.is_enabled:
                services.account_set_enabled(
                    account=current, enabled=obj.is_enabled, user=request.user
                )
            obj.refresh_from_db()

    # --- "Log in an Apple account": username and password, second factor, code, done ----

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("login/", wrap(self.login_start_view), name="findmy_appleaccount_login"),
            path(
                "login/<uuid:login_id>/",
                wrap(self.login_step_view),
                name="findmy_appleaccount_login_step",
            ),
            *super().get_urls(),
        ]

    def _check_login_permission(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied

    def _render_login(self, request, context):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Log in an Apple account",
            **context,
        }
        return TemplateResponse(request, "admin/findmy/appleaccount/login.html", context)

    @method_decorator(sensitive_post_parameters("password"))
    def login_start_view(self, request):
        self._check_login_permission(request)
        form = LoginStartForm(
            request.POST or None,
            initial={k: request.GET[k] for k in ("name", "username") if k in request.GET},
        )
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                step = login.login_start(
                    name=data["name"],
                    username=data["username"],
                    password=data["password"],
                    anisette_url=data["anisette_url"],
                    keep_password=data["keep_password"],
                    user=request.user,
                    source="admin",
                )
            except LoginError as exc:
                form.add_error(None, str(exc))
            else:
                if step.state == login.LOGGED_IN:
                    return self._logged_in(request, step)
                return HttpResponseRedirect(
                    reverse("admin:findmy_appleaccount_login_step", args=[step.login_id])
                )
        return self._render_login(request, {"form": form, "stage": "start"})

    @method_decorator(sensitive_post_parameters("code"))
    def login_step_view(self, request, login_id):
        self._check_login_permission(request)
        try:
            step = login.login_step(login_id=login_id, user=request.user)
        except login.LoginExpired as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("admin:findmy_appleaccount_login"))
        if request.method == "POST" and "cancel" in request.POST:
            login.login_cancel(login_id=login_id, user=request.user)
            messages.info(request, "The login was cancelled; nothing was saved.")
            return HttpResponseRedirect(reverse("admin:findmy_appleaccount_changelist"))
        if step.state == login.NEEDS_SECOND_FACTOR:
            form = LoginMethodForm(request.POST or None, step=step)
            if request.method == "POST" and form.is_valid():
                method, _, phone = form.cleaned_data["choice"].partition(":")
                try:
                    login.login_request_code(
                        login_id=login_id,
                        method=method,
                        phone_id=int(phone) if phone else None,
                        user=request.user,
                    )
                except login.LoginExpired as exc:
                    messages.error(request, str(exc))
                    return HttpResponseRedirect(reverse("admin:findmy_appleaccount_login"))
                except LoginError as exc:
                    form.add_error(None, str(exc))
                else:
                    return HttpResponseRedirect(request.path)
            return self._render_login(request, {"form": form, "stage": "method", "step": step})
        form = LoginCodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = login.login_submit_code(
                    login_id=login_id,
                    code=form.cleaned_data["code"],
                    user=request.user,
                    source="admin",
                )
            except login.LoginExpired as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect(reverse("admin:findmy_appleaccount_login"))
            except LoginError as exc:
                form.add_error(None, str(exc))
            else:
                return self._logged_in(request, done)
        sent_to = next((p.number for p in step.phones if p.id == step.phone_id), "")
        return self._render_login(
            request, {"form": form, "stage": "code", "step": step, "sent_to": sent_to}
        )

    def _logged_in(self, request, step):
        account = step.account
        kept = (
            "The password is kept encrypted, so the account logs in again by itself."
            if account.keeps_password
            else "The password was not kept: a refused session will need a new login."
        )
        messages.success(request, f"Apple account {account.name} is logged in. {kept}")
        return HttpResponseRedirect(reverse("admin:findmy_appleaccount_change", args=[account.pk]))

    @admin.action(description="Clear back-off / needs-login (after a new login or an outage)")
    def reset_health(self, request, queryset):
        for account in queryset:
            services.account_reset_health(account=account, user=request.user)
        messages.success(request, f"{queryset.count()} account(s) may be used again.")


@admin.register(FetchRun)
class FetchRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "started_at",
        "account",
        "protocol",
        "ids_requested",
        "ids_with_reports",
        "reports_returned",
        "reports_new",
        "reports_duplicate",
        "reports_undecryptable",
        "reports_out_of_window",
        "duration_ms",
        "error_kind",
    ]
    list_filter = ["error_kind", "protocol", "account"]
    date_hierarchy = "started_at"
    list_select_related = ["account"]


class ReportingFilter(admin.SimpleListFilter):
    title = "reporting"
    parameter_name = "reporting"

    def lookups(self, request, model_admin):
        return [
            ("due", "Due now"),
            ("leased", "Leased by a worker"),
            ("never", "Never reported"),
            ("silent_24h", "Silent for more than 24 h"),
            ("24h", "No report in 24 h"),
            ("7d", "No report in 7 days"),
            ("backing_off", "Backing off (misses)"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "due":
            return queryset.filter(next_due_at__lte=now).filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)
            )
        if value == "leased":
            return queryset.filter(claimed_until__gt=now)
        if value == "silent_24h":
            return queryset.filter(tracker__last_report_at__lt=now - timedelta(hours=24))
        if value == "never":
            return queryset.filter(tracker__last_report_at__isnull=True)
        if value == "24h":
            return queryset.filter(
                Q(tracker__last_report_at__isnull=True)
                | Q(tracker__last_report_at__lt=now - timedelta(hours=24))
            )
        if value == "7d":
            return queryset.filter(
                Q(tracker__last_report_at__isnull=True)
                | Q(tracker__last_report_at__lt=now - timedelta(days=7))
            )
        if value == "backing_off":
            return queryset.filter(backoff_factor__gt=1)
        return queryset


@admin.register(TrackerFetchState)
class TrackerFetchStateAdmin(MacSearchMixin, admin.ModelAdmin):
    """Fetch health: which trackers never or rarely report, and how far they are backed off."""

    list_display = [
        "tracker",
        "run",
        "last_report_at",
        "next_due_at",
        "backoff_factor",
        "consecutive_misses",
        "fetches_total",
        "misses_total",
        "miss_rate",
        "reports_total",
        "last_success_at",
        "claimed_until",
    ]
    list_filter = [ReportingFilter, "tracker__production_run", "tracker__client"]
    search_fields = ["tracker__mac_address", "tracker__label"]
    ordering = ["-consecutive_misses", "next_due_at"]
    list_select_related = ["tracker__production_run"]
    readonly_fields = [f.name for f in TrackerFetchState._meta.fields if f.name != "next_due_at"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="production run", ordering="tracker__production_run__name")
    def run(self, obj):
        return obj.tracker.production_run

    @admin.display(description="last report", ordering="tracker__last_report_at")
    def last_report_at(self, obj):
        return obj.tracker.last_report_at

    @admin.display(description="miss rate")
    def miss_rate(self, obj):
        if not obj.fetches_total:
            return "-"
        return f"{100 * obj.misses_total / obj.fetches_total:.0f} %"

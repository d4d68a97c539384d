"""Staff screens: Apple accounts (tokens never shown), the fetch log and fetch health."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from tracking.admin import ReadOnlyAdminMixin

from . import services
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


@admin.register(AppleAccount)
class AppleAccountAdmin(admin.ModelAdmin):
    form = AppleAccountForm
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
class TrackerFetchStateAdmin(admin.ModelAdmin):
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

from django.contrib import admin
from django.utils.html import format_html
from leaflet.admin import LeafletGeoAdmin

from . import services
from .macs import normalize_mac
from .models import (
    AlertEmail,
    AlertRule,
    AlertSubscription,
    ApiKey,
    AuditEvent,
    Brand,
    Client,
    DailyRollup,
    Event,
    HourlyRollup,
    Invitation,
    LocationReport,
    Membership,
    Notification,
    Profile,
    ShareLink,
    WebhookDelivery,
    WebhookEndpoint,
)


class ReadOnlyAdminMixin:
    """Derived or logged data: staff may look (with the view permission), never write."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MacSearchMixin:
    """Search by MAC in any spelling the lifecycle forms accept (aa-bb-..., aabb.ccdd...,
    AABBCCDDEEFF): a term that is a MAC finds exactly that tracker's rows."""

    mac_search_field = "tracker__mac_address"

    def get_search_results(self, request, queryset, search_term):
        mac = normalize_mac(search_term.strip()) if search_term else None
        if mac is not None:
            return queryset.filter(**{self.mac_search_field: mac}), False
        return super().get_search_results(request, queryset, search_term)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class BrandInline(admin.TabularInline):
    model = Brand
    fields = ["name"]  # the logo and accent colour on the brand's own page
    extra = 0
    show_change_link = True


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline, BrandInline]

    def save_model(self, request, obj, form, change):
        services.client_save(name=obj.name, client=obj, user=request.user)

    def save_formset(self, request, form, formset, change):
        """The inlines' memberships and brands go through the services too."""
        for obj in formset.save(commit=False):
            if isinstance(obj, Membership):
                services.membership_save(member=obj.user, client=form.instance, role=obj.role,
                                         membership=obj, user=request.user)  # fmt: skip
            else:
                services.brand_save(client=form.instance, name=obj.name, brand=obj,
                                    user=request.user)  # fmt: skip
        for obj in formset.deleted_objects:
            if isinstance(obj, Membership):
                services.membership_delete(membership=obj, user=request.user)
            else:
                services.brand_delete(brand=obj, user=request.user)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "role"]
    list_select_related = ["user", "client"]

    def save_model(self, request, obj, form, change):
        services.membership_save(member=obj.user, client=obj.client, role=obj.role,
                                 membership=obj, user=request.user)  # fmt: skip

    def delete_model(self, request, obj):
        services.membership_delete(membership=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("user", "client"):
            services.membership_delete(membership=membership, user=request.user)

    list_filter = ["role", "client"]
    search_fields = ["user__username", "user__email", "client__name"]
    autocomplete_fields = ["user", "client"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "client", "accent", "has_logo"]
    list_select_related = ["client"]
    fields = ["client", "name", "logo", "accent_colour"]

    def save_model(self, request, obj, form, change):
        services.brand_save(client=obj.client, name=obj.name, brand=obj, user=request.user,
                            logo=obj.logo, accent_colour=obj.accent_colour)  # fmt: skip

    @admin.display(description="Accent colour")
    def accent(self, obj):
        if not obj.accent_colour:
            return "—"
        return format_html(
            '<span style="display:inline-block;width:1em;height:1em;vertical-align:-2px;'
            'border:1px solid #888;background:{}"></span> {}',
            obj.accent_colour,
            obj.accent_colour,
        )

    @admin.display(description="Logo", boolean=True)
    def has_logo(self, obj):
        return bool(obj.logo)

    def delete_model(self, request, obj):
        services.brand_delete(brand=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for brand in queryset.select_related("client"):
            services.brand_delete(brand=brand, user=request.user)

    list_filter = ["client"]
    search_fields = ["name", "client__name"]
    autocomplete_fields = ["client"]


@admin.register(LocationReport)
class LocationReportAdmin(MacSearchMixin, ReadOnlyAdminMixin, LeafletGeoAdmin):
    list_display = ["tracker", "observed_at", "received_at", "horizontal_accuracy", "confidence"]
    list_filter = ["observed_at"]
    search_fields = ["tracker__mac_address"]
    date_hierarchy = "observed_at"
    list_select_related = ["tracker"]
    exclude = ["payload_hash"]
    readonly_fields = [
        "tracker",
        "observed_at",
        "received_at",
        "horizontal_accuracy",
        "confidence",
        "status_byte",
    ]


@admin.register(HourlyRollup, DailyRollup)
class RollupAdmin(MacSearchMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["tracker", "bucket", "report_count", "best_accuracy_m"]
    list_select_related = ["tracker"]
    search_fields = ["tracker__mac_address"]
    date_hierarchy = "bucket"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "action", "actor", "client", "target"]
    list_select_related = ["actor", "client"]
    list_filter = ["action", "client"]
    search_fields = ["action", "target", "actor__username"]
    date_hierarchy = "at"


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys are made and revoked by client admins in the portal; staff only look."""

    list_display = ["name", "client", "role", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "client"]
    search_fields = ["name", "prefix", "client__name"]
    exclude = ["secret_hash"]


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Links are made and revoked by client admins in the portal; staff only look. The
    token is not stored, so it cannot be shown."""

    list_display = [
        "__str__", "client", "tracker", "production_run", "created_at", "view_count",
        "last_viewed_at", "revoked_at",
    ]  # fmt: skip
    list_filter = ["client"]
    list_select_related = ["client", "tracker", "production_run"]
    search_fields = ["label", "client__name"]
    exclude = ["token_hash"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["url", "client", "enabled", "failing_since", "created_at"]
    list_filter = ["enabled", "client"]
    search_fields = ["url", "client__name"]
    exclude = ["secret_encrypted"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event", "endpoint", "state", "attempts", "last_status_code", "next_attempt_at"]
    list_filter = ["state"]
    list_select_related = ["endpoint", "event"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "type", "client", "tracker", "occurred_at", "created_at", "dispatched_at", "notified_at",
    ]  # fmt: skip
    list_filter = ["type"]
    list_select_related = ["client", "tracker"]
    raw_id_fields = ["tracker"]


# Customer alerts: rules and subscriptions are written in the portal (through tracking.alerts),
# notifications and e-mails by the fan-out; admin shows them (an UNCERTAIN e-mail is one a
# lost worker may or may not have sent: see tracking/alert_emails.py).


@admin.register(AlertRule)
class AlertRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["client", "event_types", "all_runs", "updated_at", "updated_by"]
    list_select_related = ["client", "updated_by"]


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["user", "client", "delivery", "digest_hour", "all_runs"]
    list_filter = ["delivery"]
    list_select_related = ["user", "client"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["kind", "user", "tracker", "occurred_at", "delivery", "state", "read_at"]
    list_filter = ["kind", "state", "delivery"]
    list_select_related = ["user", "tracker"]
    raw_id_fields = ["event", "tracker", "email"]


@admin.register(AlertEmail)
class AlertEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "to_address", "kind", "state", "notification_count", "sent_at"]
    list_filter = ["state", "kind"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """A person's own settings; staff may correct one (the person sees the change at their
    next login: the portal keeps the timezone in the session)."""

    list_display = ["user", "timezone_name"]
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email", "timezone_name"]
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        services.profile_timezone_set(user=obj.user, timezone_name=obj.timezone_name)


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Invitations are made, withdrawn and accepted in the portal; staff only look. The token
    is not stored, only its hash, which is not shown."""

    list_display = [
        "email", "client", "role", "invited_by", "created_at", "expires_at", "accepted_at",
        "revoked_at",
    ]  # fmt: skip
    list_filter = ["role", "client"]
    list_select_related = ["client", "invited_by"]
    search_fields = ["email", "client__name"]
    exclude = ["token_hash"]

from django.contrib import admin
from leaflet.admin import LeafletGeoAdmin

from .models import (
    AuditEvent,
    Brand,
    Client,
    DailyRollup,
    HourlyRollup,
    LocationReport,
    Membership,
    ProductionRun,
    Tracker,
)


class ReadOnlyAdminMixin:
    """Derived or logged data: staff may look (with the view permission), never write."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


class BrandInline(admin.TabularInline):
    model = Brand
    extra = 0
    show_change_link = True


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline, BrandInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "client", "role"]
    list_filter = ["role", "client"]
    search_fields = ["user__username", "user__email", "client__name"]
    autocomplete_fields = ["user", "client"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["name", "client"]
    list_filter = ["client"]
    search_fields = ["name", "client__name"]
    autocomplete_fields = ["client"]


@admin.register(ProductionRun)
class ProductionRunAdmin(admin.ModelAdmin):
    list_display = ["name", "brand", "client_name", "starts_at", "ends_at", "phase_label"]
    list_filter = ["brand__client", "brand", "starts_at"]
    search_fields = ["name", "brand__name", "brand__client__name"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["brand"]
    list_select_related = ["brand__client"]

    @admin.display(description="client", ordering="brand__client__name")
    def client_name(self, obj):
        return obj.brand.client.name

    @admin.display(description="phase")
    def phase_label(self, obj):
        return obj.get_phase_display()


@admin.register(Tracker)
class TrackerAdmin(LeafletGeoAdmin):
    list_display = [
        "mac_address",
        "lifecycle_state",
        "client",
        "production_run",
        "status",
        "last_report_at",
        "nearest_city",
    ]
    list_filter = ["lifecycle_state", "status", "client", "key_batch"]
    search_fields = ["mac_address", "hashed_advertisement_key", "label"]
    list_select_related = ["client", "production_run"]
    # The private key is never shown; state changes go through the fleet services.
    exclude = ["private_key_encrypted", "advertisement_key"]
    readonly_fields = [
        "mac_address",
        "hashed_advertisement_key",
        "key_batch",
        "lifecycle_state",
        "client",
        "production_run",
        "created_at",
        "last_report_at",
        "last_accuracy_m",
        "nearest_city",
        "nearest_country_code",
        "status",
        "status_changed_at",
        "status_watermark",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(LocationReport)
class LocationReportAdmin(ReadOnlyAdminMixin, LeafletGeoAdmin):
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
class RollupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["tracker", "bucket", "report_count", "best_accuracy_m"]
    search_fields = ["tracker__mac_address"]
    date_hierarchy = "bucket"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "action", "actor", "client", "target"]
    list_filter = ["action", "client"]
    search_fields = ["action", "target", "actor__username"]
    date_hierarchy = "at"

"""Admin pages that draw on every app: trackers and production runs, with their maps.

Tracker and ProductionRun live in tracking, but their pages show places and tracks
(geofencing), fetch state (findmy) and lifecycle actions (fleet), which tracking may not
import; so they are registered here, once.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from findmy import services as findmy_services
from fleet import services as fleet_services
from fleet.admin import refused
from fleet.exceptions import LifecycleError
from geofencing import selectors as geo_selectors
from geofencing import services as geo_services
from tracking import geojson
from tracking import services as tracking_services
from tracking.admin import MacSearchMixin
from tracking.models import ProductionRun, Tracker

TRACK_RANGES = {"1": 1, "2": 2, "7": 7, "30": 30, "90": 90, "365": 365}  # days
DEFAULT_TRACK_RANGE = "2"
RUN_MAP_LIMIT = 2000  # trackers drawn on a run's map; the list links to all of them
RUN_LIST_LIMIT = 100


def _changelist(name: str, **query) -> str:
    return f"{reverse(name)}?{urlencode(query)}"


class OperateTrackersMixin:
    """Actions that run the lifecycle need tracking.operate_tracker (the operations group)."""

    def has_operate_permission(self, request) -> bool:
        return request.user.has_perm("tracking.operate_tracker")

    def _reevaluate(self, request, tracker_ids: list[int]) -> None:
        result = geo_services.evaluate_statuses(tracker_ids=tracker_ids)
        messages.success(
            request,
            f"Status re-evaluated for {len(tracker_ids)} trackers: {result.reports} new reports "
            f"read, {result.transitions} status changes.",
        )


class RetireForm(forms.Form):
    reason = forms.CharField(
        max_length=200,
        help_text="Why they leave service (lost, broken, returned); kept in the audit trail.",
    )


@admin.register(Tracker)
class TrackerAdmin(MacSearchMixin, OperateTrackersMixin, admin.ModelAdmin):
    list_display = [
        "mac_address",
        "label",
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
    change_form_template = "admin/tracking/tracker/change_form.html"
    # Keys, the last point (drawn on the map) and the engine's watermark are not form fields;
    # everything derived is read-only. Only the label is staff's to write.
    fields = [
        "label",
        "mac_address",
        "hashed_advertisement_key",
        "key_batch",
        "lifecycle_state",
        "client",
        "production_run",
        "status",
        "status_changed_at",
        "last_report_at",
        "last_accuracy_m",
        "nearest_city",
        "nearest_country_code",
        "created_at",
    ]
    readonly_fields = fields[1:]
    actions = ["fetch_now", "reevaluate_status", "retire"]
    mac_search_field = "mac_address"

    def has_add_permission(self, request):
        return False  # trackers are born in a key batch (fleet)

    @admin.action(description="Fetch now (first in the queue)", permissions=["operate"])
    def fetch_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        queued = findmy_services.trackers_fetch_now(tracker_ids=ids, user=request.user)
        skipped = len(ids) - queued
        messages.success(
            request,
            f"{queued} trackers are first in the fetch queue; the next round asks Apple for them "
            "within the accounts' rate limits."
            + (
                f" {skipped} not fetchable (not active in a live run) were left out."
                if skipped
                else ""
            ),
        )

    @admin.action(description="Re-evaluate status", permissions=["operate"])
    def reevaluate_status(self, request, queryset):
        self._reevaluate(request, list(queryset.values_list("pk", flat=True)))

    @admin.action(description="Retire (with a reason)…", permissions=["operate"])
    def retire(self, request, queryset):
        form = RetireForm(request.POST if "reason" in request.POST else None)
        if form.is_bound and form.is_valid():
            macs = list(queryset.values_list("mac_address", flat=True))
            try:
                count = fleet_services.tracker_retire(
                    macs_text="\n".join(macs), user=request.user, reason=form.cleaned_data["reason"]
                )
            except LifecycleError as exc:
                refused(request, exc)
            else:
                messages.success(request, f"{count} trackers retired.")
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Retire {queryset.count()} trackers",
            "opts": self.model._meta,
            "form": form,
            "trackers": queryset.select_related("production_run")[:200],
            "count": queryset.count(),
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tracking/tracker/retire.html", context)

    def _track_range(self, request) -> str:
        days = request.GET.get("days", DEFAULT_TRACK_RANGE)
        return days if days in TRACK_RANGES else DEFAULT_TRACK_RANGE

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        tracker = self.get_object(request, object_id)
        if tracker is not None:
            extra_context.update(self._map_context(request, tracker))
        return super().change_view(request, object_id, form_url, extra_context)

    def _map_context(self, request, tracker: Tracker) -> dict:
        days = self._track_range(request)
        end = timezone.now()
        history = geo_selectors.tracker_history(
            user=request.user,
            tracker_id=tracker.pk,
            start=end - timedelta(days=TRACK_RANGES[days]),
            end=end,
        )
        features = geojson.feature_collection(
            [
                *(
                    geojson.place_feature(
                        place, url=reverse("admin:geofencing_place_change", args=[place.pk])
                    )
                    for place in history.places
                ),
                geojson.track_feature(
                    [(p.longitude, p.latitude, p.at, p.reports) for p in history.track],
                    resolution=history.resolution,
                ),
                geojson.tracker_feature(tracker),
            ]
        )
        return {
            "map_features": features,
            "track_history": history,
            "track_days": days,
            "track_ranges": TRACK_RANGES,
            "tracker_links": [
                (
                    "Status history",
                    _changelist(
                        "admin:geofencing_statushistory_changelist", tracker__id__exact=tracker.pk
                    ),
                ),
                (
                    "Reports",
                    _changelist(
                        "admin:tracking_locationreport_changelist", tracker__id__exact=tracker.pk
                    ),
                ),
                ("Customer's view", reverse("portal:tracker-history", args=[tracker.pk])),
            ],
        }


@admin.register(ProductionRun)
class ProductionRunAdmin(OperateTrackersMixin, admin.ModelAdmin):
    list_display = ["name", "brand", "client_name", "starts_at", "ends_at", "phase_label"]
    list_filter = ["brand__client", "brand", "starts_at"]
    search_fields = ["name", "brand__name", "brand__client__name"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["brand"]
    list_select_related = ["brand__client"]
    change_form_template = "admin/tracking/productionrun/change_form.html"
    actions = ["reevaluate_status"]

    def save_model(self, request, obj, form, change):
        tracking_services.production_run_save(
            brand=obj.brand, name=obj.name, starts_at=obj.starts_at, ends_at=obj.ends_at,
            run=obj, user=request.user,
        )  # fmt: skip

    @admin.action(description="Re-evaluate status of their trackers", permissions=["operate"])
    def reevaluate_status(self, request, queryset):
        ids = list(Tracker.objects.filter(production_run__in=queryset).values_list("pk", flat=True))
        self._reevaluate(request, ids)

    @admin.display(description="client", ordering="brand__client__name")
    def client_name(self, obj):
        return obj.brand.client.name

    @admin.display(description="phase")
    def phase_label(self, obj):
        return obj.get_phase_display()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        run = self.get_object(request, object_id)
        if run is not None:
            extra_context.update(self._run_context(request, run))
        return super().change_view(request, object_id, form_url, extra_context)

    def _run_context(self, request, run: ProductionRun) -> dict:
        trackers = Tracker.objects.filter(production_run=run).order_by("mac_address")
        counts = dict.fromkeys(Tracker.Status.values, 0)
        counts.update(
            trackers.order_by()
            .values_list("status")
            .annotate(n=Count("id"))
            .values_list("status", "n")
        )
        mapped = list(trackers.filter(last_point__isnull=False)[:RUN_MAP_LIMIT])
        places = list(geo_selectors.place_list(user=request.user, production_run=run))
        tracker_change = "admin:tracking_tracker_change"
        features = geojson.feature_collection(
            [
                *(
                    geojson.place_feature(
                        place, url=reverse("admin:geofencing_place_change", args=[place.pk])
                    )
                    for place in places
                ),
                *(
                    geojson.tracker_feature(t, url=reverse(tracker_change, args=[t.pk]))
                    for t in mapped
                ),
            ]
        )
        all_trackers = _changelist(
            "admin:tracking_tracker_changelist", production_run__id__exact=run.pk
        )
        return {
            "map_features": features,
            "run_status_counts": [
                {
                    "label": Tracker.Status(status).label,
                    "key": status.lower(),
                    "count": n,
                    "url": f"{all_trackers}&status__exact={status}",
                }
                for status, n in counts.items()
            ],
            "run_tracker_total": sum(counts.values()),
            "run_trackers": list(trackers[:RUN_LIST_LIMIT]),
            "run_trackers_url": all_trackers,
            "run_places": places,
            "run_map_limit": RUN_MAP_LIMIT,
        }

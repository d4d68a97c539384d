"""The operator console's admin site: Django's, with the operations dashboard as its index."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.urls import reverse

from tracking.models import Tracker

from . import selectors


def _link(name: str, **query) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def _dashboard_context(dashboard: selectors.Dashboard) -> dict:
    trackers = "admin:tracking_tracker_changelist"
    fetch_states = "admin:findmy_trackerfetchstate_changelist"
    lifecycle = [
        {
            "label": Tracker.Lifecycle(state).label,
            "count": n,
            "url": _link(trackers, lifecycle_state__exact=state),
        }
        for state, n in dashboard.lifecycle_counts.items()
    ]
    status = [
        {
            "label": Tracker.Status(value).label,
            "key": value.lower(),
            "count": n,
            "url": _link(trackers, lifecycle_state__exact="ACTIVE", status__exact=value),
        }
        for value, n in dashboard.status_counts.items()
    ]
    queue_labels = {
        "due": "Due now",
        "leased": "Leased by a worker",
        "backing_off": "Backing off",
        "never": "Never reported",
        "silent_24h": "Silent for more than 24 h",
    }
    queue = [
        {"key": key, "label": label, "count": dashboard.queue[key],
         "url": _link(fetch_states, reporting=key)}
        for key, label in queue_labels.items()
    ]  # fmt: skip
    changes = [
        {
            "label": Tracker.Status(value).label,
            "count": n,
            "url": _link("admin:geofencing_statushistory_changelist", to_status__exact=value),
        }
        for value, n in dashboard.changes_24h.items()
        if value != Tracker.Status.UNKNOWN
    ]
    return {
        "dashboard": dashboard,
        "lifecycle_tiles": lifecycle,
        "status_tiles": status,
        "queue_tiles": queue,
        "change_tiles": changes,
        "fetch_charts": {
            "day": dashboard.fetch_24h.as_chart_data(),
            "week": dashboard.fetch_7d.as_chart_data(),
        },
    }


class OperatorAdminSite(admin.AdminSite):
    site_header = "Tracker platform · operator console"
    site_title = "Operator console"
    index_title = "Operations"
    index_template = "admin/operations_index.html"

    def index(self, request, extra_context=None):
        context = _dashboard_context(selectors.operations_dashboard())
        return super().index(request, {**context, **(extra_context or {})})

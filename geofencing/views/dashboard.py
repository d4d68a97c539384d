"""Portal: the dashboard (and the status progress the run page shares)."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tracking import geojson, selectors, services
from tracking.models import Client, ProductionRun, Tracker
from tracking.timezones import local_text

from .. import selectors as geo_selectors

RECENT_CHANGES_DAYS = 7
RECENT_CHANGES_LIMIT = 50
SILENT_LIMIT = 50
# Statuses in the order a run makes progress: the counts, the bars and the legend follow it.
PROGRESS = [
    Tracker.Status.DELIVERED,
    Tracker.Status.IN_STORAGE,
    Tracker.Status.IN_TRANSIT,
    Tracker.Status.UNKNOWN,
]


def tracker_url_pattern() -> str:
    """A tracker's portal page with "{id}" for its id: the maps build the links themselves,
    so thousands of trackers need not carry one URL each."""
    return reverse("portal:tracker-history", args=[0]).replace("/0/", "/{id}/")


def status_progress(counts: dict[str, int]) -> dict:
    """Counts in PROGRESS order, each with its share of the total in percent (for the bars)."""
    total = sum(counts.values())
    return {
        "total": total,
        "parts": [
            {
                "status": status.value,
                "key": status.value.lower(),
                "label": status.label,
                "count": counts.get(status.value, 0),
                "percent": round(100 * counts.get(status.value, 0) / total, 2) if total else 0,
            }
            for status in PROGRESS
        ],
    }


@login_required
def dashboard(request):
    now = timezone.now()
    user = request.user
    clients = list(selectors.client_list(user=user))
    runs = list(selectors.production_run_list(user=user))
    live_runs = [run for run in runs if run.phase(now) == ProductionRun.Phase.LIVE]
    counts = selectors.tracker_status_counts(user=user, production_runs=[r.pk for r in live_runs])
    total: dict[str, int] = dict.fromkeys(Tracker.Status.values, 0)
    for run_counts in counts.values():
        for status, n in run_counts.items():
            total[status] += n
    run_progress = [(run, status_progress(counts[run.pk])) for run in live_runs]
    silent = selectors.silent_tracker_list(user=user, now=now)
    silent_trackers = list(silent[: SILENT_LIMIT + 1])
    changes = geo_selectors.recent_status_change_list(
        user=user, since=now - timedelta(days=RECENT_CHANGES_DAYS), limit=RECENT_CHANGES_LIMIT
    )
    # Links from one pattern each, not a URL resolution per row; the changes' labels and
    # local times made once here rather than by filters per cell.
    tracker_url = tracker_url_pattern()
    for tracker in silent_trackers:
        tracker.portal_url = tracker_url.replace("{id}", str(tracker.pk))
    labels = dict(Tracker.Status.choices)
    for change in changes:
        change["tracker_url"] = tracker_url.replace("{id}", str(change["tracker_id"]))
        change["at_text"] = local_text(change["at"])
        for side in ("from", "to"):
            status = change[f"{side}_status"]
            change[f"{side}_label"], change[f"{side}_key"] = (
                labels.get(status, status),
                status.lower(),
            )
    administered = {c.pk for c in selectors.administered_client_list(user=user)}
    return render(
        request,
        "portal/dashboard.html",
        {
            "clients": clients,
            "brands": selectors.brand_list(user=user),
            "runs": runs,
            "run_progress": run_progress,
            "total_progress": status_progress(total),
            # The map fetches the positions from its endpoint: thousands of trackers stay out
            # of the page's HTML.
            "has_positions": selectors.tracker_position_list(user=user).exists(),
            "features": geojson.feature_collection([]),
            "map_url": reverse("portal:dashboard-geojson"),
            "map_refresh_seconds": settings.PORTAL_MAP_REFRESH_SECONDS,
            "tracker_url": tracker_url,
            "changes": changes,
            "changes_days": RECENT_CHANGES_DAYS,
            "changes_limit": RECENT_CHANGES_LIMIT,
            "silent_trackers": silent_trackers[:SILENT_LIMIT],
            "silent_more": len(silent_trackers) > SILENT_LIMIT,
            "threshold_clients": [c for c in clients if c.pk in administered],
        },
    )


@login_required
@require_GET
def dashboard_geojson(request):
    """The dashboard's map: the last position of every tracker the user may see (compact)."""
    return geojson.response(
        geojson.feature_collection([]),
        features_json=selectors.tracker_position_features_json(user=request.user),
    )


@login_required
@require_POST
def silent_threshold(request, pk: int):
    """An admin of the client changes its silent threshold; its viewers get 403."""
    client = selectors.get_visible_or_404(Client.objects.all(), request.user, pk=pk)
    try:
        client = services.client_silent_threshold_set(
            user=request.user, client=client, hours=request.POST.get("silent_after_hours", "")
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, f"Silent after (hours) for {client.name}: {message}")
    else:
        messages.success(
            request,
            f"{client.name}: trackers count as silent after {client.silent_after_hours} hours.",
        )
    return redirect(reverse("portal:dashboard") + "#silent")

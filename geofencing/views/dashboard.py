"""Portal: the dashboard (and the status progress the run page shares)."""

from datetime import timedelta
from html import escape

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
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
STATUS_LABELS = dict(Tracker.Status.choices)


def url_pattern(name: str) -> str:
    """A portal page of one object with "{id}" for its id: one reverse() per page, and the
    maps build their links themselves, so thousands of rows need not carry one URL each."""
    return reverse(name, args=[0]).replace("/0/", "/{id}/")


def tracker_url_pattern() -> str:
    """A tracker's portal page with "{id}" for its id."""
    return url_pattern("portal:tracker-history")


def status_progress(counts: dict[str, int]) -> dict:
    """Counts in PROGRESS order, each with its share of the total in percent, and `bar`:
    the stacked bar the dashboard and the run page draw of them."""
    total = sum(counts.values())
    parts = [
        {
            "status": status.value,
            "key": status.value.lower(),
            "label": status.label,
            "count": counts.get(status.value, 0),
            "percent": round(100 * counts.get(status.value, 0) / total, 2) if total else 0,
        }
        for status in PROGRESS
    ]
    return {"total": total, "parts": parts, "bar": _progress_bar(parts, total)}


def _progress_bar(parts: list[dict], total: int) -> str:
    """A stacked bar of trackers by status. The widths are the shares; the text says the same
    for screen readers and for anyone who cannot tell the colours apart."""
    e = escape
    said = ", ".join(f"{part['label']}: {part['count']}" for part in parts)
    spans = "".join(
        f'<span class="progress-part status-{e(part["key"])}" style="width: '
        f'{part["percent"]:.2f}%" title="{e(part["label"])}: {int(part["count"])}"'
        f' data-count="{int(part["count"])}"></span>'
        for part in parts
        if part["count"]
    )
    return mark_safe(  # every value in it is escaped or a number
        f'<div class="progress" role="img" aria-label="{e(said)} of {int(total)}">{spans}</div>'
    )


# The dashboard's table rows are written here rather than in the template, like the tracker
# list's (tracking.views.trackers): a hundred rows of template nodes cost more than the rest
# of the page. Every value goes through `escape` (html.escape, quotes too).
def _tracker_cell(url: str, label: str, mac: str) -> str:
    e = escape
    if label:
        return f'<a href="{e(url)}">{e(label)} <code class="muted">{e(mac)}</code></a>'
    return f'<a href="{e(url)}"><code>{e(mac)}</code></a>'


def _change_row(change: dict, url: str) -> str:
    e = escape
    sides = [
        f'<span class="status status-{e(status.lower())}">{e(STATUS_LABELS.get(status, status))}'
        "</span>"
        for status in (change["from_status"], change["to_status"])
    ]
    if change["place_name"]:
        place = f"at {e(change['place_name'])}"
    elif change["from_place_name"]:
        place = f'<span class="muted">left</span> {e(change["from_place_name"])}'
    else:
        place = '<span class="muted">—</span>'
    return mark_safe(  # every value in it is escaped
        f'<tr><td class="nowrap">{e(local_text(change["at"]))}</td>'
        f"<td>{_tracker_cell(url, change['label'], change['mac_address'])}</td>"
        f'<td class="nowrap">{sides[0]} → {sides[1]}</td><td>{place}</td></tr>'
    )


def _silent_row(tracker: Tracker, url: str, now) -> str:
    e = escape
    return mark_safe(  # every value in it is escaped
        f'<tr data-tracker="{int(tracker.pk)}">'
        f"<td>{_tracker_cell(url, tracker.label, tracker.mac_address)}</td>"
        f"<td>{e(tracker.production_run.name if tracker.production_run else '—')}</td>"
        f'<td class="nowrap">{e(local_text(tracker.last_report_at))}</td>'
        f'<td class="nowrap">{e(timesince(tracker.last_report_at, now))}</td></tr>'
    )


def _run_progress_row(run: ProductionRun, progress: dict, url: str) -> str:
    e = escape
    counts = "".join(
        f'<td class="num status-{e(part["key"])}">{int(part["count"])}</td>'
        for part in progress["parts"]
    )
    return mark_safe(  # every value in it is escaped or a number
        f'<tr data-run="{int(run.pk)}"><td><a href="{e(url)}">{e(run.name)}</a>'
        f' <span class="muted">{e(run.brand.name)}</span></td>{counts}'
        f'<td class="num total">{int(progress["total"])}</td>'
        f'<td class="bar-cell">{progress["bar"]}</td></tr>'
    )


def _run_row(run: ProductionRun, url: str, now) -> str:
    e = escape
    phase = ProductionRun.Phase(run.phase(now))
    return mark_safe(  # every value in it is escaped
        f'<tr><td><a href="{e(url)}">{e(run.name)}</a></td><td>{e(run.brand.name)}</td>'
        f"<td>{e(run.brand.client.name)}</td>"
        f'<td class="nowrap">{e(local_text(run.starts_at))}</td>'
        f'<td class="nowrap">{e(local_text(run.ends_at))}</td>'
        f'<td><span class="phase phase-{e(phase.value.lower())}">{e(phase.label)}</span></td></tr>'
    )


@login_required
def dashboard(request):
    now = timezone.now()
    user = request.user
    clients = selectors.client_list_with_roles(user=user)
    runs = list(selectors.production_run_list(user=user))
    live_runs = [run for run in runs if run.phase(now) == ProductionRun.Phase.LIVE]
    counts = selectors.tracker_status_counts(user=user, production_runs=[r.pk for r in live_runs])
    total: dict[str, int] = dict.fromkeys(Tracker.Status.values, 0)
    for run_counts in counts.values():
        for status, n in run_counts.items():
            total[status] += n
    run_progress = [(run, status_progress(counts[run.pk])) for run in live_runs]
    run_url = url_pattern("portal:run-detail")
    run_progress_rows = [
        _run_progress_row(run, progress, run_url.replace("{id}", str(run.pk)))
        for run, progress in run_progress
    ]
    run_rows = [_run_row(run, run_url.replace("{id}", str(run.pk)), now) for run in runs]
    silent = list(selectors.silent_tracker_list(user=user, now=now)[: SILENT_LIMIT + 1])
    changes = geo_selectors.recent_status_change_list(
        user=user, since=now - timedelta(days=RECENT_CHANGES_DAYS), limit=RECENT_CHANGES_LIMIT
    )
    # Links from one pattern, not a URL resolution per row.
    tracker_url = tracker_url_pattern()
    for change in changes:
        change["html"] = _change_row(change, tracker_url.replace("{id}", str(change["tracker_id"])))
    silent_rows = [
        _silent_row(tracker, tracker_url.replace("{id}", str(tracker.pk)), now)
        for tracker in silent[:SILENT_LIMIT]
    ]
    return render(
        request,
        "portal/dashboard.html",
        {
            "clients": clients,
            "runs": runs,
            "run_progress": run_progress,
            "run_progress_rows": run_progress_rows,
            "run_rows": run_rows,
            "total_progress": status_progress(total),
            # The map fetches the positions from its endpoint: thousands of trackers stay out
            # of the page's HTML.
            "has_positions": selectors.has_tracker_positions(user=user),
            "features": geojson.feature_collection([]),
            "map_url": reverse("portal:dashboard-geojson"),
            "map_refresh_seconds": settings.PORTAL_MAP_REFRESH_SECONDS,
            "tracker_url": tracker_url,
            "changes": changes,
            "changes_days": RECENT_CHANGES_DAYS,
            "changes_limit": RECENT_CHANGES_LIMIT,
            "silent_trackers": silent[:SILENT_LIMIT],
            "silent_rows": silent_rows,
            "silent_more": len(silent) > SILENT_LIMIT,
            "threshold_clients": [c for c in clients if c.administered],
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

"""Customer portal pages. Every object comes through a selector scoped to request.user."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from . import selectors


@login_required
def dashboard(request):
    runs = list(selectors.production_run_list(user=request.user))
    return render(
        request,
        "portal/dashboard.html",
        {
            "clients": selectors.client_list(user=request.user),
            "brands": selectors.brand_list(user=request.user),
            "runs": runs,
        },
    )


@login_required
def production_run_detail(request, pk: int):
    run = selectors.production_run_get(user=request.user, pk=pk)
    trackers = list(selectors.tracker_list(user=request.user, production_run=run))
    positions = [
        {
            "mac": t.mac_address,
            "lat": t.last_point.y,
            "lon": t.last_point.x,
            "status": t.status,
            "status_label": t.get_status_display(),
            "last_report_at": t.last_report_at.isoformat() if t.last_report_at else "",
            "city": t.nearest_city,
            "url": reverse("geofencing:tracker-history", args=[t.pk]),
        }
        for t in trackers
        if t.last_point is not None
    ]
    return render(
        request,
        "portal/run_detail.html",
        {"run": run, "trackers": trackers, "positions": positions},
    )

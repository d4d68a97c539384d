"""Customer portal pages. Every object comes through a selector scoped to request.user."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

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
    trackers = selectors.tracker_list(user=request.user, production_run=run)
    return render(request, "portal/run_detail.html", {"run": run, "trackers": trackers})

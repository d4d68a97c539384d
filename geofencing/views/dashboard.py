"""Portal: the dashboard and a production run's page."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from tracking import geojson, selectors


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
    features = geojson.feature_collection(
        geojson.tracker_feature(t, url=reverse("portal:tracker-history", args=[t.pk]))
        for t in trackers
    )
    return render(
        request,
        "portal/run_detail.html",
        {"run": run, "trackers": trackers, "features": features},
    )

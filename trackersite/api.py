"""The partner API, version 1: every app's viewsets, JWT token endpoints, the OpenAPI schema
and its documentation pages (Swagger UI and ReDoc served from static/, no CDN).

Everything lives under /api/v1/. The unversioned /api/... paths of before answer a permanent
redirect (308, method and body kept) to the same path under /api/v1/.
"""

from csp.decorators import csp_update
from django.http import HttpResponsePermanentRedirect
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import DefaultRouter

from fleet.api import OrderViewSet
from geofencing.api import PlaceViewSet, StatusHistoryViewSet
from tracking.api.auth import RevocableTokenRefreshView
from tracking.api.views import (
    BrandViewSet,
    ClientViewSet,
    MeView,
    ProductionRunViewSet,
    TrackerViewSet,
)
from tracking.api.webhooks import WebhookViewSet

from .lockout import LockoutAwareTokenObtainPairView


class Router(DefaultRouter):
    include_root_view = False


router = Router()
router.register("clients", ClientViewSet, basename="client")
router.register("brands", BrandViewSet, basename="brand")
router.register("production-runs", ProductionRunViewSet, basename="production-run")
router.register("trackers", TrackerViewSet, basename="tracker")
router.register("places", PlaceViewSet, basename="place")
router.register("orders", OrderViewSet, basename="order")
router.register("webhooks", WebhookViewSet, basename="webhook")

urlpatterns = [
    path("token/", LockoutAwareTokenObtainPairView.as_view(), name="token-obtain"),
    path("token/refresh/", RevocableTokenRefreshView.as_view(), name="token-refresh"),
    path("me/", MeView.as_view(), name="me"),
    path(
        "trackers/<int:tracker_pk>/status-history/",
        StatusHistoryViewSet.as_view({"get": "list"}),
        name="tracker-status-history",
    ),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves Swagger UI's set-up as a script of its own (?script), so the
    # Content-Security-Policy needs no inline script for it.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # ReDoc draws its maker's logo from their server; offline it is simply left out.
    path(
        "redoc/",
        csp_update({"img-src": ["https://cdn.redoc.ly"]})(
            SpectacularRedocView.as_view(url_name="api:schema")
        ),
        name="redoc",
    ),
    path("", include(router.urls)),
]


def unversioned(request, rest: str):
    target = f"/api/v1/{rest}"
    if request.META.get("QUERY_STRING"):
        target += "?" + request.META["QUERY_STRING"]
    response = HttpResponsePermanentRedirect(target)
    response.status_code = 308
    return response

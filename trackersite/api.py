"""The partner API router: every app's viewsets, JWT token endpoints, and the OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter
from rest_framework_simplejwt.views import TokenRefreshView

from trackersite.lockout import LockoutAwareTokenObtainPairView
from tracking.api import ProductionRunViewSet, TrackerViewSet

router = DefaultRouter()
router.register("production-runs", ProductionRunViewSet, basename="production-run")
router.register("trackers", TrackerViewSet, basename="tracker")

urlpatterns = [
    path("token/", LockoutAwareTokenObtainPairView.as_view(), name="token-obtain"),
    path("token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("", include(router.urls)),
]

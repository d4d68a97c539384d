from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from .api import unversioned
from .health import healthz
from .metrics import metrics

handler404 = "trackersite.problems.not_found"
handler500 = "trackersite.problems.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("trackersite.api", "api"))),
    re_path(r"^api/(?!v1/)(?P<rest>.*)$", unversioned, name="api-unversioned"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("trackersite.portal_urls")),
]

handler400 = "trackersite.errors.bad_request"

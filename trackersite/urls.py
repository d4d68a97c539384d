from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from tracking.views import accounts

from .api import unversioned
from .health import healthz
from .media import brand_file
from .metrics import metrics

handler404 = "trackersite.problems.not_found"
handler500 = "trackersite.problems.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    path("media/brands/<path:path>", brand_file, name="brand-file"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("trackersite.api", "api"))),
    re_path(r"^api/(?!v1/)(?P<rest>.*)$", unversioned, name="api-unversioned"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Django's password views with the portal's templates (templates/registration/). Saving
    # the new password revokes the person's API tokens (tracking/tokens.py, on pre_save).
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "accounts/password/reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    # The token stands in this path: the log filter masks it (trackersite.requestid).
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("", include("trackersite.portal_urls")),
]

handler400 = "trackersite.errors.bad_request"

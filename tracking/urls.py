from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/<int:pk>/", views.production_run_detail, name="run-detail"),
    path("integrations/", views.integrations, name="integrations"),
    path("integrations/keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
]

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("runs/<int:pk>/", views.production_run_detail, name="run-detail"),
]

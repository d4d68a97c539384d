from django.urls import path

from . import views

app_name = "geofencing"

urlpatterns = [
    path("trackers/<int:pk>/history/", views.tracker_history, name="tracker-history"),
]

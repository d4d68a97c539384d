"""The portal's geofencing pages; trackersite/portal_urls.py puts them in the `portal`
namespace."""

from django.urls import path

from .views import dashboard, exports, history, places, runs, shares

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("map.geojson", dashboard.dashboard_geojson, name="dashboard-geojson"),
    path(
        "clients/<int:pk>/silent-threshold/",
        dashboard.silent_threshold,
        name="silent-threshold",
    ),
    path("runs/<int:pk>/", runs.production_run_detail, name="run-detail"),
    path("runs/<int:pk>/map.geojson", runs.production_run_geojson, name="run-geojson"),
    path("trackers/<int:pk>/history/", history.tracker_history, name="tracker-history"),
    path(
        "trackers/<int:pk>/history.<str:fmt>",
        exports.tracker_history_export,
        name="tracker-history-export",
    ),
    path("places/", places.place_list, name="places"),
    path("places/new/", places.place_create, name="place-create"),
    path("places/<int:pk>/", places.place_edit, name="place-edit"),
    path("places/<int:pk>/delete/", places.place_delete, name="place-delete"),
    # A share link's public page: no login, scoped by the link (its token's hash).
    path("s/<str:token>/", shares.shared, name="share-page"),
]

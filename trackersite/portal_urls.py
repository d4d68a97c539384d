"""The customer portal: one URL namespace, `portal`, for the pages of every app (each app's
urls.py lists its own, without a namespace)."""

from geofencing.urls import urlpatterns as geofencing_patterns
from tracking.urls import urlpatterns as tracking_patterns

app_name = "portal"

urlpatterns = [*tracking_patterns, *geofencing_patterns]

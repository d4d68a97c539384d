"""The project's URLs plus geofencing's, until trackersite/urls.py includes them."""

from django.urls import include, path

from trackersite.urls import urlpatterns as project_urlpatterns

urlpatterns = [path("", include("geofencing.urls")), *project_urlpatterns]

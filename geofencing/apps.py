from django.apps import AppConfig


class GeofencingConfig(AppConfig):
    name = "geofencing"

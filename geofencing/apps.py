from django.apps import AppConfig
from django.db.models.signals import pre_delete


class GeofencingConfig(AppConfig):
    name = "geofencing"

    def ready(self) -> None:
        from . import events, services  # noqa: F401  (events registers its payload builder)
        from .models import Place

        pre_delete.connect(
            services.wait_for_status_evaluation, sender=Place, dispatch_uid="place-waits-status"
        )

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import pre_save


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tenancy and trackers"

    def ready(self) -> None:
        from .tokens import revoke_tokens_on_credential_change

        pre_save.connect(
            revoke_tokens_on_credential_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="user-credential-change-revokes-tokens",
        )

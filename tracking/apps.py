from django.apps import AppConfig
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import pre_save


class TrackingConfig(AppConfig):
    name = "tracking"
    verbose_name = "Tenancy and trackers"

    def ready(self) -> None:
        from .timezones import remember_timezone_at_login
        from .tokens import revoke_tokens_on_credential_change

        pre_save.connect(
            revoke_tokens_on_credential_change,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="user-credential-change-revokes-tokens",
        )
        user_logged_in.connect(remember_timezone_at_login, dispatch_uid="timezone-at-login")

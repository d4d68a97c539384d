from django.apps import AppConfig


class TrackersiteConfig(AppConfig):
    """The project itself: commands that span every app (demo data, schedules, key rotation)."""

    name = "trackersite"
    verbose_name = "Platform"

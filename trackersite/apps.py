from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


def _install_staff_groups(sender, **kwargs):
    # post_migrate is sent once per app with models, in INSTALLED_APPS order; after the last
    # one every app's permissions exist, so the groups can be given them.
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if sender is with_models[-1]:
        from .services import staff_groups_install

        staff_groups_install()


class TrackersiteConfig(AppConfig):
    """The project itself: commands that span every app (demo data, schedules, key rotation),
    the operations dashboard and the staff groups."""

    name = "trackersite"
    verbose_name = "Platform"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the settings checks)

        post_migrate.connect(_install_staff_groups, dispatch_uid="staff_groups")

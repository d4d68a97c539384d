"""Writes that span the apps: the staff groups that say what each employee may do in admin."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import transaction

OPERATIONS = "operations"
SUPPORT = "support"
VIEWER = "viewer"

# Every staff member reads everything the operator's apps hold.
READ_APPS = ("tracking", "fleet", "findmy", "geofencing", "django_celery_beat")

# operations: the lifecycle, the Apple accounts and the places.
OPERATIONS_MODELS = {
    "tracking": ("client", "membership", "brand", "productionrun", "keybatch", "tracker"),
    "fleet": ("customerorder", "allocation"),
    "findmy": ("appleaccount", "trackerfetchstate"),
    "geofencing": ("place",),
}
OPERATIONS_EXTRA = [("tracking", "operate_tracker")]
# support: reads everything, changes trackers' labels and places.
SUPPORT_EXTRA = [
    ("tracking", "change_tracker"),
    ("geofencing", "add_place"),
    ("geofencing", "change_place"),
]


def _view_permissions() -> list[Permission]:
    return list(
        Permission.objects.filter(
            content_type__app_label__in=READ_APPS, codename__startswith="view_"
        )
    )


def _named(pairs: list[tuple[str, str]]) -> list[Permission]:
    wanted = {f"{app}.{codename}" for app, codename in pairs}
    found = [
        p
        for p in Permission.objects.filter(codename__in=[c for _, c in pairs]).select_related(
            "content_type"
        )
        if f"{p.content_type.app_label}.{p.codename}" in wanted
    ]
    missing = wanted - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"permissions not installed yet: {', '.join(sorted(missing))}")
    return found


@transaction.atomic
def staff_groups_install() -> dict[str, int]:
    """Create or reset the three staff groups; returns each group's permission count.

    Idempotent; runs after every migrate (TrackersiteConfig) and as install_staff_groups.
    A group's permissions are set to exactly the declared ones, so a change here is a change
    for every member on the next migrate.
    """
    view = _view_permissions()
    operations_pairs = [
        (app, f"{action}_{model}")
        for app, models in OPERATIONS_MODELS.items()
        for model in models
        for action in ("add", "change", "delete")
        if apps.is_installed(app)
    ]
    wanted = {
        VIEWER: view,
        SUPPORT: view + _named(SUPPORT_EXTRA),
        OPERATIONS: view + _named(operations_pairs + OPERATIONS_EXTRA),
    }
    counts = {}
    for name, permissions in wanted.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(permissions)
        counts[name] = len(set(permissions))
    return counts

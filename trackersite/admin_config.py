from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    """django.contrib.admin with the operator console's site (the dashboard as index)."""

    default_site = "trackersite.admin_site.OperatorAdminSite"

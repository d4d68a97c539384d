"""Template filters of the tenancy rule, for links only admins may follow:
{% load tenancy %}{% if tracker.client|administered_by:user %}...{% endif %}"""

from django import template

from ..models import Client

register = template.Library()


@register.filter
def administered_by(client: Client | None, user) -> bool:
    """Whether `user` may change `client`'s data (staff, or one of its admins)."""
    if client is None:
        return False
    return Client.objects.administered_by(user).filter(pk=client.pk).exists()

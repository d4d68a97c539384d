"""Template filters of the tenancy rule, for links only admins may follow:
{% load tenancy %}{% if tracker.client_id|administered_by:user %}...{% endif %}
(a client's id, or the client itself)."""

from django import template

from ..models import Client

register = template.Library()


@register.filter
def administered_by(client: Client | int | None, user) -> bool:
    """Whether `user` may change the client's data (staff, or one of its admins). Given the
    id, the client itself is never read: one query answers."""
    if client is None:
        return False
    pk = client.pk if isinstance(client, Client) else client
    return Client.objects.administered_by(user).filter(pk=pk).exists()

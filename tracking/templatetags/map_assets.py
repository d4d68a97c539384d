"""{% load map_assets %}{% leaflet_assets %}: django-leaflet's {% leaflet_css %} and
{% leaflet_js %}, rendered once per process. Their HTML depends on the settings alone (the
static files' URLs and LEAFLET_CONFIG), and rendering them costs a map page more than its
map: they are read from memory after the first page."""

from functools import cache

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@cache
def _leaflet_head() -> SafeString:
    source = "{% load leaflet_tags %}{% leaflet_css %}{% leaflet_js %}"
    return mark_safe(template.Template(source).render(template.Context()))  # our own tags' HTML


@register.simple_tag
def leaflet_assets() -> SafeString:
    return _leaflet_head()

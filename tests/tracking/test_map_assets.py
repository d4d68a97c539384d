"""{% leaflet_assets %} writes what django-leaflet's two tags write, from memory."""

from django.template import Context, Template


def test_leaflet_assets_are_django_leaflets_css_and_js():
    theirs = Template("{% load leaflet_tags %}{% leaflet_css %}{% leaflet_js %}").render(Context())
    ours = Template("{% load map_assets %}{% leaflet_assets %}")
    assert "leaflet.js" in theirs and "leaflet.css" in theirs
    assert ours.render(Context()) == theirs
    assert ours.render(Context()) == theirs  # the second time, from memory

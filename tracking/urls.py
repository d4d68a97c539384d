"""The portal's tracking pages; trackersite/portal_urls.py puts them in the `portal` namespace."""

from django.urls import path

from .views import integrations, shares

urlpatterns = [
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/keys/<int:pk>/revoke/", integrations.api_key_revoke, name="api-key-revoke"),
    path("shares/", shares.share_links, name="share-links"),
    path("shares/<int:pk>/revoke/", shares.share_link_revoke, name="share-link-revoke"),
]

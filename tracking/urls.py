"""The portal's tracking pages; trackersite/portal_urls.py puts them in the `portal` namespace."""

from django.urls import path

from .views import integrations

urlpatterns = [
    path("integrations/", integrations.integrations, name="integrations"),
    path("integrations/keys/<int:pk>/revoke/", integrations.api_key_revoke, name="api-key-revoke"),
]

"""Serving what staff upload (brands' logos, MEDIA_ROOT/brands/): public files with random
names, so they may be cached for a day. Only brands/ is served; Django's static file view
refuses paths that leave the folder."""

from django.conf import settings
from django.views.decorators.http import require_GET
from django.views.static import serve

CACHE_SECONDS = 24 * 60 * 60


@require_GET
def brand_file(request, path: str):
    response = serve(request, f"brands/{path}", document_root=settings.MEDIA_ROOT)
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    return response

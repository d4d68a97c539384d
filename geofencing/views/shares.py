"""The public page of a share link (/s/<token>/): one tracker or one production run, for a
receiver or carrier without an account.

The link is the page's whole scope (the one exception to the portal's tenancy rule): it is
found by the SHA-256 of the token in the URL, and the page shows the link's tracker or the
run's trackers, their status, when they were last seen, the run's places and the brand's name;
no MAC address, no other tracker, nothing else of the client. An unknown, expired or revoked
token answers the same 404 as any missing page. Each address, and each token, gets
SHARE_LINK_RATE_PER_IP / SHARE_LINK_RATE_PER_LINK answers a minute (counted in Redis).
"""

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tracking import geojson, ratelimit, selectors, services
from tracking.macs import contains_mac

from ..selectors import share_link_places

# The token is in the URL: no referrer to tile servers or links, no caching, no indexing.
PRIVATE_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-store, max-age=0",
    "X-Robots-Tag": "noindex, nofollow",
}


def _too_many(retry_after: int) -> HttpResponse:
    response = HttpResponse(
        f"Too many requests. Try again in {retry_after} seconds.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(retry_after)
    return response


def public_label(tracker, number: int) -> str:
    """The tracker's label, unless it is empty or spells a MAC address: then "Tracker N"."""
    label = tracker.label.strip()
    return label if label and not contains_mac(label) else f"Tracker {number}"


@require_GET
def shared(request, token: str):
    token_hash = services.share_link_hash(token)
    ip = get_client_ip_address(request) or "unknown"
    retry_after = ratelimit.hit(
        scope="share-ip", key=ip, limit=settings.SHARE_LINK_RATE_PER_IP
    ) or ratelimit.hit(
        scope="share-link", key=token_hash[:32], limit=settings.SHARE_LINK_RATE_PER_LINK
    )
    if retry_after:
        response = _too_many(retry_after)
    else:
        link = selectors.share_link_open(token_hash=token_hash)
        if link is None:
            raise Http404("No such page.")
        services.share_link_record_view(link=link)
        response = render(request, "geofencing/share_page.html", _page(link))
    for name, value in PRIVATE_HEADERS.items():
        response[name] = value
    return response


def _page(link) -> dict:
    trackers = list(selectors.share_link_trackers(link=link))
    shown = [(tracker, public_label(tracker, n)) for n, tracker in enumerate(trackers, 1)]
    places = list(share_link_places(link=link, trackers=trackers))
    features = geojson.feature_collection(
        [
            *(geojson.place_feature(place) for place in places),
            *(geojson.shared_tracker_feature(t, label=label) for t, label in shown),
        ]
    )
    run = link.production_run or (trackers[0].production_run if trackers else None)
    return {
        "link": link,
        "brand": run.brand if run else None,
        "is_run": link.production_run_id is not None,
        "trackers": shown,
        "places": places,
        "features": features,
        "located": sum(1 for t in trackers if t.last_point is not None),
        "now": timezone.now(),
    }

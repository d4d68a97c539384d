"""A share link's public page (/s/<token>/): what it shows (one tracker or one run, no MAC),
its headers, its 404s, its rate limits in the real Redis, and the token kept out of logs."""

import io
import json
import logging
import re
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from geofencing.models import Place
from tests.factories import ProductionRunFactory, TrackerFactory
from trackersite.requestid import SecretPathLogFilter
from tracking import services
from tracking.models import ShareLink, Tracker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("rate_limits_cleared")]

VIENNA = (16.37, 48.21)


def mac_spellings(mac: str) -> list[str]:
    """A MAC as people and tools write it: AA:BB:.., aa-bb-.., aabbccddeeff, aabb.ccdd.eeff."""
    pairs = mac.split(":")
    bare = "".join(pairs)
    return [
        mac,
        "-".join(pairs),
        bare,
        ".".join(bare[i : i + 4] for i in range(0, 12, 4)),
        " ".join(pairs),
    ]


def assert_no_mac(html: str, trackers) -> None:
    lowered = html.lower()
    for tracker in trackers:
        for spelling in mac_spellings(tracker.mac_address):
            assert spelling.lower() not in lowered, spelling


def located(tracker: Tracker, lon: float, lat: float, *, minutes_ago: int = 12, **fields):
    Tracker.objects.filter(pk=tracker.pk).update(
        last_point=Point(lon, lat, srid=4326),
        last_accuracy_m=30,
        last_report_at=timezone.now() - timedelta(minutes=minutes_ago),
        nearest_city="Wien",
        nearest_country_code="AT",
        status=Tracker.Status.IN_TRANSIT,
        **fields,
    )
    tracker.refresh_from_db()
    return tracker


@pytest.fixture
def shipment(world, make_place):
    """Client A's run with three located trackers and a place; another run of A with its own
    tracker and place; B's tracker. Everything a link must not show, next to what it shows."""
    world.tracker_a = located(world.tracker_a, *VIENNA, label="Pallet 1")
    world.sibling = located(TrackerFactory(production_run=world.run_a), 16.40, 48.20)
    world.mac_label = located(
        TrackerFactory(production_run=world.run_a), 16.42, 48.22, label="tag aa-bb-cc-dd-ee-01"
    )
    world.other_run = ProductionRunFactory(client=world.client_a, name="Alpha other run")
    world.other = located(TrackerFactory(production_run=world.other_run), 2.35, 48.85)
    world.tracker_b = located(world.tracker_b, 16.5, 48.3, label="Bravo pallet")
    world.place = make_place(world.run_a, Place.Kind.DELIVERY, 16.45, 48.19, name="Graz store")
    world.other_place = make_place(
        world.other_run, Place.Kind.STORAGE, 2.3, 48.8, name="Paris depot"
    )
    world.b_place = make_place(world.run_b, Place.Kind.STORAGE, 16.5, 48.3, name="Bravo depot")
    return world


def _share(world, **kwargs):
    arguments = {
        "user": world.a_admin,
        "client": world.client_a,
        "expires_at": timezone.now() + timedelta(days=1),
    }
    arguments.update(kwargs)
    return services.share_link_create(**arguments)


def _features(response) -> list[dict]:
    html = response.content.decode()
    data = re.search(r'<script id="share-map-data" type="application/json">(.*?)</script>', html)
    return json.loads(data.group(1))["features"]


def all_trackers_of_a(world):
    return Tracker.objects.filter(client=world.client_a)


def test_tracker_link_shows_that_tracker_and_its_runs_places_only(client, shipment):
    world = shipment
    token = _share(world, tracker=world.tracker_a).token
    response = client.get(reverse("portal:share-page", args=[token]))
    assert response.status_code == 200
    html = response.content.decode()
    features = _features(response)
    trackers = [f for f in features if f["properties"]["kind"] == "tracker"]
    places = [f["properties"]["name"] for f in features if f["properties"]["kind"] == "place"]
    assert len(trackers) == 1
    assert trackers[0]["geometry"]["coordinates"] == list(VIENNA)
    assert set(trackers[0]["properties"]) >= {"status", "label", "last_report_at"}
    assert not {"mac", "id", "url"} & set(trackers[0]["properties"])
    assert places == ["Graz store"]
    assert "Pallet 1" in html
    assert "In transit" in html
    assert "12\xa0minutes ago" in html
    assert world.run_a.brand.name in html
    for absent in ("Paris depot", "Bravo depot", "Bravo pallet", world.client_a.name,
                   world.client_b.name, world.run_a.name, "tag aa"):  # fmt: skip
        assert absent not in html
    assert_no_mac(html, Tracker.objects.all())


def test_run_link_shows_the_runs_trackers_only(client, shipment):
    world = shipment
    token = _share(world, production_run=world.run_a).token
    response = client.get(reverse("portal:share-page", args=[token]))
    html = response.content.decode()
    trackers = [f for f in _features(response) if f["properties"]["kind"] == "tracker"]
    coordinates = sorted(tuple(f["geometry"]["coordinates"]) for f in trackers)
    assert coordinates == sorted([VIENNA, (16.40, 48.20), (16.42, 48.22)])
    labels = sorted(f["properties"]["label"] for f in trackers)
    # Numbered in the order of their labels; a label that spells a MAC is replaced too.
    assert labels == ["Pallet 1", "Tracker 1", "Tracker 3"]
    assert "(2.35" not in html and "2.35," not in html  # the other run's tracker
    assert "Paris depot" not in html and "Bravo" not in html
    assert_no_mac(html, Tracker.objects.all())


def test_share_page_headers_keep_the_token_private(client, shipment):
    token = _share(shipment, tracker=shipment.tracker_a).token
    response = client.get(reverse("portal:share-page", args=[token]))
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert '<meta name="robots" content="noindex' in response.content.decode()
    assert not response.cookies  # no session or CSRF cookie for a visitor


def test_each_view_is_counted(client, shipment):
    link = _share(shipment, tracker=shipment.tracker_a)
    for _ in range(3):
        client.get(reverse("portal:share-page", args=[link.token]))
    row = ShareLink.objects.get(pk=link.link.pk)
    assert row.view_count == 3
    assert timezone.now() - row.last_viewed_at < timedelta(minutes=1)


def test_expired_revoked_and_unknown_links_answer_the_same_404(client, shipment):
    world = shipment
    expired = _share(world, tracker=world.tracker_a)
    ShareLink.objects.filter(pk=expired.link.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    revoked = _share(world, tracker=world.tracker_a)
    services.share_link_revoke(user=world.a_admin, link=revoked.link)
    run_ended = _share(world, production_run=world.run_a, expires_at=None, until_run_end=True)
    world.run_a.ends_at = timezone.now() - timedelta(seconds=1)
    world.run_a.save()
    unknown = "A" * 43
    bodies = set()
    for token in (expired.token, revoked.token, run_ended.token, unknown, "x"):
        response = client.get(reverse("portal:share-page", args=[token]))
        assert response.status_code == 404, token
        bodies.add(response.content)
    assert len(bodies) == 1
    assert ShareLink.objects.filter(view_count__gt=0).count() == 0


def test_a_tracker_given_to_another_client_is_no_longer_shown(client, shipment):
    world = shipment
    token = _share(world, tracker=world.tracker_a).token
    Tracker.objects.filter(pk=world.tracker_a.pk).update(client=world.client_b)
    assert client.get(reverse("portal:share-page", args=[token])).status_code == 404


def test_a_tracker_without_a_position_says_so(client, world):
    token = _share(world, tracker=world.tracker_a).token
    response = client.get(reverse("portal:share-page", args=[token]))
    assert response.status_code == 200
    assert 'id="no-position"' in response.content.decode()
    assert_no_mac(response.content.decode(), [world.tracker_a])


@override_settings(SHARE_LINK_RATE_PER_IP=5, SHARE_LINK_RATE_PER_LINK=1000)
def test_rate_limit_per_address_answers_429_with_retry_after(client, shipment):
    token = _share(shipment, tracker=shipment.tracker_a).token
    url = reverse("portal:share-page", args=[token])
    answers = [client.get(url, REMOTE_ADDR="203.0.113.7").status_code for _ in range(7)]
    assert answers == [200] * 5 + [429] * 2
    refused = client.get(url, REMOTE_ADDR="203.0.113.7")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert token not in refused.content.decode()
    # Unknown tokens count too: guessing costs the same budget.
    assert client.get(reverse("portal:share-page", args=["guess"]),
                      REMOTE_ADDR="203.0.113.7").status_code == 429  # fmt: skip
    assert client.get(url, REMOTE_ADDR="203.0.113.8").status_code == 200  # another address
    assert ShareLink.objects.get().view_count == 6


@override_settings(SHARE_LINK_RATE_PER_IP=1000, SHARE_LINK_RATE_PER_LINK=4)
def test_rate_limit_per_link_across_addresses(client, shipment):
    token = _share(shipment, tracker=shipment.tracker_a).token
    other = _share(shipment, tracker=shipment.tracker_a).token
    url = reverse("portal:share-page", args=[token])
    answers = [client.get(url, REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(6)]
    assert answers == [200] * 4 + [429] * 2
    assert client.get(reverse("portal:share-page", args=[other])).status_code == 200


def test_rate_limit_counters_live_in_redis(shipment):
    from django.core.cache import cache

    from tracking import ratelimit

    assert ratelimit.hit(scope="test", key="k", limit=1) is None
    assert ratelimit.hit(scope="test", key="k", limit=1) is not None
    redis = cache._cache.get_client()
    assert list(redis.scan_iter(match=cache.make_key("ratelimit:test:k:*")))


@pytest.fixture
def console_log():
    """The text the configured console handler writes (the one every log line goes through),
    captured while the test runs."""
    handlers = [
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, SecretPathLogFilter) for f in h.filters)
    ]
    assert handlers, "the console handler masks share tokens"
    stream = io.StringIO()
    previous = [h.setStream(stream) for h in handlers]
    yield stream
    for handler, old in zip(handlers, previous, strict=True):
        handler.setStream(old)


def test_the_token_never_reaches_the_logs(client, shipment, console_log):
    world = shipment
    live = _share(world, tracker=world.tracker_a)
    dead = _share(world, tracker=world.tracker_a)
    services.share_link_revoke(user=world.a_admin, link=dead.link)
    with override_settings(SHARE_LINK_RATE_PER_IP=3):
        for token in (live.token, dead.token, live.token, live.token):
            client.get(reverse("portal:share-page", args=[token]))
    # The development server's request line goes through the same handler.
    logging.getLogger("django.server").info('"%s" %s %s', f"GET /s/{live.token}/ HTTP/1.1", 200, 9)
    written = console_log.getvalue()
    assert "Not Found: /s/[token]/" in written
    assert "Too Many Requests: /s/[token]/" in written
    assert "GET /s/[token]/ HTTP/1.1" in written
    assert live.token not in written and dead.token not in written

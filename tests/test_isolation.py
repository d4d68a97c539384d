"""The isolation matrix: every portal page and every API endpoint and method, for every persona
and for API keys of each role.

Add each new page to PAGES and each new endpoint and method to ENDPOINTS. `owner` names the
client whose object the URL shows ("a" or "b"), or None for lists and pages every logged-in
caller may open (they then list only their own). Writes (`write=True`) are for the owner's
admins: the owner's viewers get 403, everyone else the same 404 as for a missing object.
Anonymous callers are sent to log in (portal) or refused with 401 (API).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from geofencing import services as geofencing_services
from geofencing.models import Place
from tracking import services
from tracking.models import Invitation, Membership, Notification, ShareLink


def _place(world, letter: str) -> Place:
    """Client A's or B's place for the places pages (made on first use)."""
    client = world.client_a if letter == "a" else world.client_b
    place = Place.objects.filter(client=client, name=f"Depot {letter}").first()
    return place or geofencing_services.place_create(
        client=client,
        kind=Place.Kind.STORAGE,
        name=f"Depot {letter}",
        point=Point(16.37, 48.2, srid=4326),
        production_runs=[world.run_a if letter == "a" else world.run_b],
    )


@dataclass(frozen=True)
class Page:
    name: str
    url: Callable[[object], str]
    owner: str | None
    api: bool = False
    admin_only: bool = False  # the owner's viewers get 403


PAGES = [
    Page("dashboard", lambda w: reverse("portal:dashboard"), owner=None),
    Page("dashboard map", lambda w: reverse("portal:dashboard-geojson"), owner=None),
    Page("run A", lambda w: reverse("portal:run-detail", args=[w.run_a.pk]), owner="a"),
    Page("run B", lambda w: reverse("portal:run-detail", args=[w.run_b.pk]), owner="b"),
    Page("run A map", lambda w: reverse("portal:run-geojson", args=[w.run_a.pk]), owner="a"),
    Page("run B map", lambda w: reverse("portal:run-geojson", args=[w.run_b.pk]), owner="b"),
    Page(
        "tracker history A",
        lambda w: reverse("portal:tracker-history", args=[w.tracker_a.pk]),
        owner="a",
    ),
    Page(
        "tracker history B",
        lambda w: reverse("portal:tracker-history", args=[w.tracker_b.pk]),
        owner="b",
    ),
    Page("integrations", lambda w: reverse("portal:integrations"), owner=None),
    Page("share links", lambda w: reverse("portal:share-links"), owner=None),
    Page(
        "share links for tracker A",
        lambda w: reverse("portal:share-links") + f"?tracker={w.tracker_a.pk}",
        owner="a",
    ),
    Page(
        "share links for run B",
        lambda w: reverse("portal:share-links") + f"?run={w.run_b.pk}",
        owner="b",
    ),
    Page("alerts", lambda w: reverse("portal:alerts"), owner=None),
    Page(
        "alert rules A",
        lambda w: reverse("portal:alert-rules", args=[w.client_a.pk]),
        owner="a",
        admin_only=True,
    ),
    Page(
        "alert rules B",
        lambda w: reverse("portal:alert-rules", args=[w.client_b.pk]),
        owner="b",
        admin_only=True,
    ),
    Page("notifications", lambda w: reverse("portal:notifications"), owner=None),
    Page("account", lambda w: reverse("portal:account"), owner=None),
    Page("password change", lambda w: reverse("password_change"), owner=None),
    Page("members", lambda w: reverse("portal:members"), owner=None),
    Page("places", lambda w: reverse("portal:places"), owner=None),
    Page("new place", lambda w: reverse("portal:place-create"), owner=None, admin_only=True),
    Page(
        "new place for client A",
        lambda w: reverse("portal:place-create") + f"?client={w.client_a.pk}",
        owner="a",
        admin_only=True,
    ),
    Page(
        "place A",
        lambda w: reverse("portal:place-edit", args=[_place(w, "a").pk]),
        owner="a",
        admin_only=True,
    ),
    Page(
        "place B",
        lambda w: reverse("portal:place-edit", args=[_place(w, "b").pk]),
        owner="b",
        admin_only=True,
    ),
    Page(
        "delete place A (confirmation)",
        lambda w: reverse("portal:place-delete", args=[_place(w, "a").pk]),
        owner="a",
        admin_only=True,
    ),
    Page("tracker list", lambda w: reverse("portal:tracker-list"), owner=None),
    Page(
        "tracker list filtered by run A",
        lambda w: reverse("portal:tracker-list") + f"?production_run={w.run_a.pk}&q=a",
        owner=None,
    ),
    Page("tracker list CSV", lambda w: reverse("portal:tracker-list-export"), owner=None),
    *(
        Page(
            f"tracker history {fmt} {owner.upper()}",
            lambda w, fmt=fmt, owner=owner: (
                reverse(
                    "portal:tracker-history-export", args=[getattr(w, f"tracker_{owner}").pk, fmt]
                )
                + "?days=7"
            ),
            owner=owner,
        )
        for fmt in ("csv", "gpx", "geojson")
        for owner in ("a", "b")
    ),
    Page(
        "run A trackers CSV", lambda w: reverse("portal:run-export", args=[w.run_a.pk]), owner="a"
    ),
    Page(
        "run B trackers CSV", lambda w: reverse("portal:run-export", args=[w.run_b.pk]), owner="b"
    ),
]

PERSONAS = {"staff": None, "a_admin": "a", "a_viewer": "a", "b_admin": "b"}


def _expected(page: Page, persona: str) -> int:
    client = PERSONAS[persona]
    if page.admin_only and persona == "a_viewer" and page.owner in (None, client):
        return 403
    if page.owner is None or persona == "staff" or client == page.owner:
        return 200
    return 404


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_isolation_matrix_answers_404_for_other_clients(client, world, page, persona_name):
    client.force_login(getattr(world, persona_name))
    response = client.get(page.url(world))
    assert response.status_code == _expected(page, persona_name), (page.name, persona_name)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_isolation_matrix_anonymous_is_refused(client, world, page):
    response = client.get(page.url(world))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- Share links: portal writes, and the visitor who holds a link --------------------------


def _share(world, **target):
    return services.share_link_create(
        user=world.a_admin,
        client=world.client_a,
        expires_at=timezone.now() + timedelta(days=1),
        **target,
    )


# Writes on client A's links: its admins (and staff) may, its viewer gets 403, B gets 404.
SHARE_WRITES = {"staff": 302, "a_admin": 302, "a_viewer": 403, "b_admin": 404}


@pytest.mark.parametrize("persona_name", list(SHARE_WRITES))
def test_isolation_share_link_revoke(client, world, persona_name):
    link = _share(world, tracker=world.tracker_a).link
    client.force_login(getattr(world, persona_name))
    response = client.post(reverse("portal:share-link-revoke", args=[link.pk]))
    assert response.status_code == SHARE_WRITES[persona_name]
    link.refresh_from_db()
    assert (link.revoked_at is not None) == (response.status_code == 302)


@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_isolation_share_link_create(client, world, persona_name):
    client.force_login(getattr(world, persona_name))
    response = client.post(
        reverse("portal:share-links"), {"target": f"tracker:{world.tracker_a.pk}", "ends": "7"}
    )
    made = ShareLink.objects.filter(tracker=world.tracker_a).exists()
    if persona_name == "a_viewer":
        assert response.status_code == 403
    else:  # B's admin may make links, but not to A's tracker (it is not among the choices)
        assert response.status_code == 200
    assert made == (persona_name in ("staff", "a_admin"))


def _shown(response) -> tuple[list, str]:
    html = response.content.decode()
    data = re.search(r'<script id="share-map-data" type="application/json">(.*?)</script>', html)
    features = json.loads(data.group(1))["features"] if data else []
    return [f for f in features if f["properties"]["kind"] == "tracker"], html


def _assert_no_mac_of(html: str, trackers) -> None:
    """No MAC of these trackers in any spelling: AA:BB.., aa-bb.., aabbcc.., aabb.ccdd.., spaced."""
    text = html.lower()
    for tracker in trackers:
        pairs = tracker.mac_address.lower().split(":")
        bare = "".join(pairs)
        for spelling in (":".join(pairs), "-".join(pairs), " ".join(pairs), bare,
                         ".".join(bare[i : i + 4] for i in range(0, 12, 4))):  # fmt: skip
            assert spelling not in text, spelling


@pytest.fixture
def link_world(world, rate_limits_cleared):
    """Client A's run with two located trackers (plus B's): the link shows one or the run."""
    from tests.factories import TrackerFactory
    from tracking.models import Tracker

    world.tracker_a2 = TrackerFactory(production_run=world.run_a, label="Second pallet")
    for n, tracker in enumerate((world.tracker_a, world.tracker_a2, world.tracker_b)):
        Tracker.objects.filter(pk=tracker.pk).update(
            last_point=Point((163 + n) / 10, 48.2, srid=4326), last_report_at=timezone.now()
        )
    return world


@pytest.mark.parametrize("persona_name", ["anonymous", *PERSONAS])
def test_isolation_link_holder_sees_exactly_the_linked_tracker(client, link_world, persona_name):
    """The link is the scope: whoever holds it (logged in or not) sees its tracker alone."""
    from tracking.models import Tracker

    world = link_world
    if persona_name != "anonymous":
        client.force_login(getattr(world, persona_name))
    token = _share(world, tracker=world.tracker_a).token
    trackers, html = _shown(client.get(reverse("portal:share-page", args=[token])))
    assert [t["geometry"]["coordinates"] for t in trackers] == [[16.3, 48.2]]
    assert "Second pallet" not in html  # the other tracker of the same client and run
    _assert_no_mac_of(html, Tracker.objects.all())


def test_isolation_link_holder_sees_the_linked_run_only(client, link_world):
    from tracking.models import Tracker

    world = link_world
    token = _share(world, production_run=world.run_a).token
    trackers, html = _shown(client.get(reverse("portal:share-page", args=[token])))
    assert sorted(t["geometry"]["coordinates"][0] for t in trackers) == [16.3, 16.4]  # not B's
    _assert_no_mac_of(html, Tracker.objects.all())


def test_isolation_link_holder_gets_no_portal_page(client, link_world):
    token = _share(link_world, tracker=link_world.tracker_a).token
    assert client.get(reverse("portal:share-page", args=[token])).status_code == 200
    for page in PAGES:
        response = client.get(page.url(link_world))
        assert response.status_code == 302, page.name
        assert reverse("login") in response["Location"]


def test_isolation_dead_links_answer_one_404(client, link_world):
    world = link_world
    expired = _share(world, tracker=world.tracker_a)
    ShareLink.objects.filter(pk=expired.link.pk).update(expires_at=timezone.now())
    revoked = _share(world, tracker=world.tracker_a)
    services.share_link_revoke(user=world.a_admin, link=revoked.link)
    responses = [
        client.get(reverse("portal:share-page", args=[token]))
        for token in (expired.token, revoked.token, "never-issued-" + "x" * 30)
    ]
    assert {r.status_code for r in responses} == {404}
    assert len({r.content for r in responses}) == 1


def _place_form(w) -> dict:
    return {
        "kind": "DELIVERY",
        "name": "Written store",
        "latitude": "48.21",
        "longitude": "16.4",
        "radius_m": "150",
        "production_runs": [w.run_a.pk],
    }


@dataclass(frozen=True)
class PortalWrite:
    name: str
    url: Callable[[object], str]
    owner: str
    body: Callable[[object], dict]
    ok: int = 302


PORTAL_WRITES = [
    PortalWrite(
        "silent threshold A",
        lambda w: reverse("portal:silent-threshold", args=[w.client_a.pk]),
        "a",
        lambda w: {"silent_after_hours": "12"},
    ),
    PortalWrite(
        "invite to A",
        lambda w: reverse("portal:member-invite", args=[w.client_a.pk]),
        "a",
        lambda w: {"email": "invitee@example.com", "role": "VIEWER"},
    ),
    PortalWrite(
        "member role A",
        lambda w: reverse("portal:member-role", args=[Membership.objects.get(user=w.a_viewer).pk]),
        "a",
        lambda w: {"role": "ADMIN"},
    ),
    PortalWrite(
        "member remove A",
        lambda w: reverse(
            "portal:member-remove", args=[Membership.objects.get(user=w.a_viewer).pk]
        ),
        "a",
        lambda w: {},
    ),
    PortalWrite(
        "invitation withdraw A",
        lambda w: reverse(
            "portal:invitation-revoke",
            args=[
                services.invitation_create(
                    user=w.a_admin, client=w.client_a, email="open@example.com", role="VIEWER"
                ).invitation.pk
            ],
        ),
        "a",
        lambda w: {},
    ),
    PortalWrite(
        "create place for A",
        lambda w: reverse("portal:place-create"),
        "a",
        lambda w: {**_place_form(w), "client": w.client_a.pk},
    ),
    PortalWrite(
        "change place A",
        lambda w: reverse("portal:place-edit", args=[_place(w, "a").pk]),
        "a",
        _place_form,
    ),
    PortalWrite(
        "delete place A",
        lambda w: reverse("portal:place-delete", args=[_place(w, "a").pk]),
        "a",
        lambda w: {},
    ),
    PortalWrite(
        "tracker label A",
        lambda w: reverse("portal:tracker-label", args=[w.tracker_a.pk]),
        "a",
        lambda w: {"label": "Relabelled"},
    ),
    PortalWrite(
        "tracker labels CSV A",
        lambda w: reverse("portal:tracker-labels-upload"),
        "a",
        lambda w: {
            "client": w.client_a.pk,
            "labels_file": SimpleUploadedFile(
                "labels.csv", f"mac,label\n{w.tracker_a.mac_address},Relabelled\n".encode()
            ),
        },
    ),
]


def _portal_write_expected(write: PortalWrite, persona: str) -> int:
    if persona == "staff" or persona == f"{write.owner}_admin":
        return write.ok
    return 403 if PERSONAS[persona] == write.owner else 404


@pytest.mark.parametrize("write", PORTAL_WRITES, ids=lambda w: w.name)
@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_portal_write_matrix_admins_only(client, world, write, persona_name):
    client.force_login(getattr(world, persona_name))
    response = client.post(write.url(world), write.body(world))
    assert response.status_code == _portal_write_expected(write, persona_name), (
        write.name,
        persona_name,
    )


@pytest.mark.parametrize("write", PORTAL_WRITES, ids=lambda w: w.name)
def test_portal_write_matrix_anonymous_is_refused(client, world, write):
    response = client.post(write.url(world), write.body(world))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


# --- Members: the writes changed what they should, and the invitation's link ----------------


@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_isolation_member_writes_change_only_what_admins_may(client, world, persona_name):
    viewer = Membership.objects.get(user=world.a_viewer)
    client.force_login(getattr(world, persona_name))
    client.post(reverse("portal:member-role", args=[viewer.pk]), {"role": "ADMIN"})
    client.post(
        reverse("portal:member-invite", args=[world.client_a.pk]),
        {"email": "invitee@example.com", "role": "ADMIN"},
    )
    allowed = persona_name in ("staff", "a_admin")
    viewer.refresh_from_db()
    assert (viewer.role == "ADMIN") == allowed
    assert Invitation.objects.filter(client=world.client_a).exists() == allowed


@pytest.mark.parametrize("persona_name", ["anonymous", *PERSONAS])
def test_isolation_invitation_link_is_its_own_scope(client, world, persona_name):
    """Whoever holds the link reaches the one invitation it names, and no other; the page
    that accepts it never shows the token or another client's members."""
    issued = services.invitation_create(
        user=world.b_admin, client=world.client_b, email="holder@example.com", role="VIEWER"
    )
    if persona_name != "anonymous":
        client.force_login(getattr(world, persona_name))
    opened = client.get(reverse("portal:invitation", args=[issued.token]))
    assert opened.status_code == 302
    page = client.get(opened["Location"])
    html = page.content.decode()
    assert "Join Bravo Retail" in html
    assert issued.token not in html
    assert "Alpha Logistics" not in html


def test_isolation_invitation_accept_without_a_link_is_a_404_page(client, world):
    assert client.get(reverse("portal:invitation-accept")).status_code == 404
    client.force_login(world.a_admin)
    assert client.post(reverse("portal:invitation-accept")).status_code == 404


@pytest.mark.parametrize(
    "write", [w for w in PORTAL_WRITES if "label" in w.name], ids=lambda w: w.name
)
@pytest.mark.parametrize("persona_name", ["anonymous", *PERSONAS])
def test_portal_write_matrix_labels_change_for_admins_only(client, world, write, persona_name):
    from tracking.models import Tracker

    if persona_name != "anonymous":
        client.force_login(getattr(world, persona_name))
    client.post(write.url(world), write.body(world))
    label = Tracker.objects.get(pk=world.tracker_a.pk).label
    assert (label == "Relabelled") == (persona_name in ("staff", "a_admin"))


# --- The partner API ---------------------------------------------------------------------


@pytest.fixture
def api_world(world):
    """The world, plus a place and a webhook per client for the object endpoints."""
    for suffix, client, run in (
        ("a", world.client_a, world.run_a),
        ("b", world.client_b, world.run_b),
    ):
        place = geofencing_services.place_create(
            client=client,
            kind=Place.Kind.STORAGE,
            name=f"Depot {suffix}",
            point=Point(16.37, 48.2, srid=4326),
            production_runs=[run],
        )
        setattr(world, f"place_{suffix}", place)
        admin = world.a_admin if suffix == "a" else world.b_admin
        hook = services.webhook_create(
            user=admin,
            client=client,
            url=f"https://hooks.example.com/{suffix}",
            event_types=["tracker.status_changed"],
        ).endpoint
        setattr(world, f"webhook_{suffix}", hook)
    return world


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    url: Callable[[object], str]
    owner: str | None
    write: bool = False
    body: Callable[[object], dict] = field(default=lambda w: {})
    ok: int = 200


def _place_body(w) -> dict:
    return {
        "client": w.client_a.pk,
        "kind": "DELIVERY",
        "name": "New store",
        "point": {"longitude": 16.4, "latitude": 48.21},
        "radius_m": 150,
        "production_runs": [w.run_a.pk],
    }


def _hook_body(w) -> dict:
    return {
        "client": w.client_a.pk,
        "url": "https://hooks.example.com/new",
        "event_types": ["tracker.first_report", "tracker.silent"],
    }


ENDPOINTS = [
    Endpoint("me", "get", lambda w: reverse("api:me"), None),
    Endpoint("clients", "get", lambda w: reverse("api:client-list"), None),
    Endpoint("client B", "get", lambda w: reverse("api:client-detail", args=[w.client_b.pk]), "b"),
    Endpoint("brands", "get", lambda w: reverse("api:brand-list"), None),
    Endpoint("brand A", "get", lambda w: reverse("api:brand-detail", args=[w.run_a.brand_id]), "a"),
    Endpoint("runs", "get", lambda w: reverse("api:production-run-list"), None),
    Endpoint(
        "run A", "get", lambda w: reverse("api:production-run-detail", args=[w.run_a.pk]), "a"
    ),
    Endpoint("orders", "get", lambda w: reverse("api:order-list"), None),
    Endpoint("order B", "get", lambda w: reverse("api:order-detail", args=[w.order_b.pk]), "b"),
    Endpoint("trackers", "get", lambda w: reverse("api:tracker-list"), None),
    Endpoint(
        "trackers geojson", "get", lambda w: reverse("api:tracker-list") + "?format=geojson", None
    ),
    Endpoint(
        "tracker B", "get", lambda w: reverse("api:tracker-detail", args=[w.tracker_b.pk]), "b"
    ),
    Endpoint(
        "tracker A locations",
        "get",
        lambda w: reverse("api:tracker-locations", args=[w.tracker_a.pk]),
        "a",
    ),
    Endpoint(
        "tracker B status history",
        "get",
        lambda w: reverse("api:tracker-status-history", args=[w.tracker_b.pk]),
        "b",
    ),
    Endpoint("places", "get", lambda w: reverse("api:place-list"), None),
    Endpoint("place A", "get", lambda w: reverse("api:place-detail", args=[w.place_a.pk]), "a"),
    Endpoint(
        "create place A", "post", lambda w: reverse("api:place-list"), "a", True, _place_body, 201
    ),
    Endpoint(
        "change place A",
        "patch",
        lambda w: reverse("api:place-detail", args=[w.place_a.pk]),
        "a",
        True,
        lambda w: {"radius_m": 300},
    ),
    Endpoint(
        "delete place A",
        "delete",
        lambda w: reverse("api:place-detail", args=[w.place_a.pk]),
        "a",
        True,
        ok=204,
    ),
    Endpoint("webhooks", "get", lambda w: reverse("api:webhook-list"), None),
    Endpoint(
        "webhook B", "get", lambda w: reverse("api:webhook-detail", args=[w.webhook_b.pk]), "b"
    ),
    Endpoint(
        "webhook A deliveries",
        "get",
        lambda w: reverse("api:webhook-deliveries", args=[w.webhook_a.pk]),
        "a",
    ),
    Endpoint(
        "create webhook A",
        "post",
        lambda w: reverse("api:webhook-list"),
        "a",
        True,
        _hook_body,
        201,
    ),
    Endpoint(
        "change webhook A",
        "patch",
        lambda w: reverse("api:webhook-detail", args=[w.webhook_a.pk]),
        "a",
        True,
        lambda w: {"enabled": False},
    ),
    Endpoint(
        "delete webhook A",
        "delete",
        lambda w: reverse("api:webhook-detail", args=[w.webhook_a.pk]),
        "a",
        True,
        ok=204,
    ),
]

# Callers: people, and API keys of each role. (client, is admin)
CALLERS = {
    "staff": (None, True),
    "a_admin": ("a", True),
    "a_viewer": ("a", False),
    "b_admin": ("b", True),
    "key_a_admin": ("a", True),
    "key_a_viewer": ("a", False),
    "key_b_viewer": ("b", False),
}


def _api_expected(endpoint: Endpoint, caller: str) -> set[int]:
    client, admin = CALLERS[caller]
    mine = caller == "staff" or endpoint.owner is None or client == endpoint.owner
    if not endpoint.write:
        return {endpoint.ok if mine else 404}
    if endpoint.method == "post":  # the body names client A
        if caller == "staff" or (client == "a" and admin):
            return {endpoint.ok}
        return {403} if not admin else {400}
    if not mine:
        return {404}
    return {endpoint.ok} if admin else {403}


def _authorize(api_client, world, caller: str) -> None:
    if caller.startswith("key_"):
        _, letter, role = caller.split("_")
        client = world.client_a if letter == "a" else world.client_b
        admin = world.a_admin if letter == "a" else world.b_admin
        issued = services.api_key_create(
            user=admin, client=client, name=f"key {role}", role=role.upper()
        )
        api_client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {issued.secret}"
    else:
        api_client.force_login(getattr(world, caller))


@pytest.fixture
def with_order(api_world):
    from fleet.models import CustomerOrder

    api_world.order_b = CustomerOrder.objects.create(
        client=api_world.client_b, reference="B-1", quantity=3
    )
    return api_world


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
@pytest.mark.parametrize("caller", list(CALLERS))
def test_api_isolation_matrix(client, with_order, endpoint, caller):
    world = with_order
    _authorize(client, world, caller)
    response = getattr(client, endpoint.method)(
        endpoint.url(world), endpoint.body(world), content_type="application/json"
    )
    assert response.status_code in _api_expected(endpoint, caller), (
        endpoint.name,
        caller,
        response.content[:300],
    )
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_api_isolation_matrix_anonymous_is_refused(client, with_order, endpoint):
    response = getattr(client, endpoint.method)(
        endpoint.url(with_order), endpoint.body(with_order), content_type="application/json"
    )
    assert response.status_code == 401, endpoint.name
    assert response.json()["status"] == 401


def test_api_isolation_matrix_lists_only_own_rows(client, with_order):
    """The lists answer 200 to everyone: check what is in them for B's key."""
    world = with_order
    _authorize(client, world, "key_b_viewer")
    expected = {
        "client": [world.client_b.pk],
        "brand": [world.run_b.brand_id],
        "production-run": [world.run_b.pk],
        "tracker": [world.tracker_b.pk],
        "place": [world.place_b.pk],
        "webhook": [world.webhook_b.pk],
        "order": [world.order_b.pk],
    }
    for name, ids in expected.items():
        rows = client.get(reverse(f"api:{name}-list")).json()["results"]
        assert [row["id"] for row in rows] == ids, name


# --- Portal writes that are one person's own -----------------------------------------------


@pytest.mark.parametrize("persona_name", list(PERSONAS))
def test_isolation_notifications_are_marked_read_by_their_person_only(client, world, persona_name):
    note = Notification.objects.create(
        user=world.a_viewer, kind="tracker.arrived", occurred_at=timezone.now()
    )
    client.force_login(getattr(world, persona_name))
    response = client.post(reverse("portal:notification-read", args=[note.pk]))
    assert response.status_code == (302 if persona_name == "a_viewer" else 404)
    client.post(reverse("portal:notifications-read-all"))
    note.refresh_from_db()
    assert (note.read_at is not None) == (persona_name == "a_viewer")


@pytest.mark.parametrize(
    "name", ["portal:notification-read", "portal:notifications-read-all", "portal:alert-rules"]
)
def test_isolation_alert_writes_refuse_anonymous_callers(client, world, name):
    args = [] if name.endswith("read-all") else [world.client_a.pk]
    response = client.post(reverse(name, args=args))
    assert response.status_code == 302 and reverse("login") in response["Location"]

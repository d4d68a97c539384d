"""Share links: what the services store and refuse, and the portal's management page."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from tests.factories import ProductionRunFactory, TrackerFactory
from tracking import selectors, services
from tracking.models import AuditEvent, ShareLink

pytestmark = pytest.mark.django_db


def _link(world, **kwargs):
    arguments = {
        "user": world.a_admin,
        "client": world.client_a,
        "tracker": world.tracker_a,
        "expires_at": timezone.now() + timedelta(days=7),
    }
    arguments.update(kwargs)
    return services.share_link_create(**arguments)


# --- Services ------------------------------------------------------------------------------


def test_share_link_token_has_256_random_bits_and_only_its_hash_is_stored(world):
    issued = [_link(world, label=f"receiver {n}") for n in range(20)]
    tokens = [i.token for i in issued]
    assert len(set(tokens)) == 20
    for token in tokens:
        # secrets.token_urlsafe(32): 32 random bytes, 43 URL-safe characters
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    link = ShareLink.objects.get(pk=issued[0].link.pk)
    assert link.token_hash == hashlib.sha256(tokens[0].encode()).hexdigest()
    stored = [str(value) for value in ShareLink.objects.values_list() for value in value]
    audited = [str(row) for row in AuditEvent.objects.values_list("target", "details")]
    for token in tokens:
        assert not any(token in value for value in stored + audited)


def test_share_link_create_is_audited(world):
    issued = _link(world, label="Receiver Graz")
    event = AuditEvent.objects.get(action="share_link.create")
    assert event.actor == world.a_admin
    assert event.client == world.client_a
    assert event.details["tracker"] == world.tracker_a.pk
    assert event.details["link"] == issued.link.pk


def test_share_link_opens_until_its_time_and_not_after(world):
    link = _link(world).link
    assert selectors.share_link_open(token_hash=link.token_hash) == link
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert selectors.share_link_open(token_hash=link.token_hash) is None
    link.refresh_from_db()
    assert link.state() == ShareLink.State.EXPIRED


def test_share_link_until_run_end_follows_the_run(world):
    link = _link(world, expires_at=None, until_run_end=True).link
    assert link.expiry_run == world.run_a  # a tracker's link ends with the tracker's run
    assert link.ends_at == world.run_a.ends_at
    assert selectors.share_link_open(token_hash=link.token_hash) == link
    world.run_a.ends_at = timezone.now() - timedelta(minutes=1)
    world.run_a.save()
    assert selectors.share_link_open(token_hash=link.token_hash) is None


def test_share_link_of_a_run_until_its_end(world):
    link = _link(world, tracker=None, production_run=world.run_a, expires_at=None,
                 until_run_end=True).link  # fmt: skip
    assert link.production_run == link.expiry_run == world.run_a
    assert link.state() == ShareLink.State.ACTIVE


def test_share_link_revoke_stops_it_and_is_audited(world):
    link = _link(world).link
    services.share_link_revoke(user=world.a_admin, link=link)
    services.share_link_revoke(user=world.a_admin, link=link)  # twice: one audit row
    assert selectors.share_link_open(token_hash=link.token_hash) is None
    assert link.state() == ShareLink.State.REVOKED
    assert AuditEvent.objects.filter(action="share_link.revoke").count() == 1


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"tracker": None}, "target"),
        ({"production_run": "run_a"}, "target"),  # both a tracker and a run
        ({"tracker": "tracker_b"}, "tracker"),
        ({"tracker": None, "production_run": "run_b"}, "production_run"),
        ({"expires_at": None}, "expires_at"),
        ({"until_run_end": True}, "expires_at"),  # both a time and the run's end
        ({"expires_at": "past"}, "expires_at"),
        ({"expires_at": "in two years"}, "expires_at"),
    ],
)
def test_share_link_create_refuses_bad_input_by_field(world, kwargs, field):
    values = {
        "run_a": world.run_a,
        "run_b": world.run_b,
        "tracker_b": world.tracker_b,
        "past": timezone.now() - timedelta(minutes=1),
        "in two years": timezone.now() + timedelta(days=730),
    }
    kwargs = {k: values.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(ValidationError) as refused:
        _link(world, **kwargs)
    assert field in refused.value.message_dict
    assert not ShareLink.objects.exists()


def test_share_link_until_an_ended_run_is_refused(world):
    ended = ProductionRunFactory(
        client=world.client_a,
        starts_at=timezone.now() - timedelta(days=40),
        ends_at=timezone.now() - timedelta(days=1),
    )
    with pytest.raises(ValidationError, match="has ended"):
        _link(world, tracker=None, production_run=ended, expires_at=None, until_run_end=True)


def test_share_link_only_by_the_clients_admins(world):
    for user in (world.a_viewer, world.b_admin):
        with pytest.raises(PermissionDenied):
            _link(world, user=user)
    link = _link(world).link
    with pytest.raises(PermissionDenied):
        services.share_link_revoke(user=world.a_viewer, link=link)
    assert not ShareLink.objects.filter(revoked_at__isnull=False).exists()


def test_share_link_views_are_counted_in_the_database(world):
    link = _link(world).link
    for _ in range(3):
        services.share_link_record_view(link=link)
    link.refresh_from_db()
    assert link.view_count == 3
    assert link.last_viewed_at is not None


def test_share_link_model_refuses_two_targets_and_two_ends(world):
    link = ShareLink(
        client=world.client_a,
        tracker=world.tracker_a,
        production_run=world.run_a,
        token_hash="x" * 64,
        expires_at=timezone.now() + timedelta(days=1),
    )
    with pytest.raises(ValidationError, match="one tracker or one production run"):
        link.full_clean()


# --- The management page ------------------------------------------------------------------


def test_admin_creates_a_link_and_sees_its_url_once(client, world):
    client.force_login(world.a_admin)
    url = reverse("portal:share-links")
    response = client.post(
        url,
        {"target": f"tracker:{world.tracker_a.pk}", "ends": "7", "label": "Receiver Graz"},
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    link = ShareLink.objects.get()
    shown = re.search(r'id="issued-url" value="([^"]+)"', response.content.decode()).group(1)
    token = shown.rstrip("/").rsplit("/", 1)[1]
    assert shown.startswith("http://testserver/s/")
    assert services.share_link_hash(token) == link.token_hash
    assert link.label == "Receiver Graz"
    assert timedelta(days=6, hours=23) < link.ends_at - timezone.now() <= timedelta(days=7)

    listed = client.get(url)
    assert token not in listed.content.decode()
    assert "Receiver Graz" in listed.content.decode()


def test_admin_creates_a_run_link_until_the_run_ends(client, world):
    client.force_login(world.a_admin)
    client.post(reverse("portal:share-links"), {"target": f"run:{world.run_a.pk}", "ends": "run"})
    link = ShareLink.objects.get()
    assert link.production_run == link.expiry_run == world.run_a


def test_admin_chooses_the_end_time(client, world):
    client.force_login(world.a_admin)
    at = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    client.post(
        reverse("portal:share-links"),
        {"target": f"tracker:{world.tracker_a.pk}", "ends": "at",
         "expires_at": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M")},
    )  # fmt: skip
    assert ShareLink.objects.get().expires_at == at


def test_a_chosen_end_without_a_time_is_refused_by_name(client, world):
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:share-links"), {"target": f"tracker:{world.tracker_a.pk}", "ends": "at"}
    )
    assert response.context["form"].errors["expires_at"] == ["Give the time the link ends."]
    assert not ShareLink.objects.exists()


def test_admin_cannot_share_another_clients_tracker(client, world):
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:share-links"), {"target": f"tracker:{world.tracker_b.pk}", "ends": "7"}
    )
    assert "target" in response.context["form"].errors
    assert not ShareLink.objects.exists()


def test_preselected_target_from_the_tracker_and_run_pages(client, world):
    client.force_login(world.a_admin)
    response = client.get(reverse("portal:share-links") + f"?run={world.run_a.pk}")
    assert response.context["form"]["target"].value() == f"run:{world.run_a.pk}"
    assert (
        client.get(reverse("portal:share-links") + f"?tracker={world.tracker_b.pk}").status_code
        == 404
    )
    assert client.get(reverse("portal:share-links") + "?run=x").status_code == 404


def test_share_button_on_run_and_tracker_pages_for_admins_only(client, world):
    pages = [
        (reverse("portal:run-detail", args=[world.run_a.pk]), f"?run={world.run_a.pk}"),
        (reverse("portal:tracker-history", args=[world.tracker_a.pk]),
         f"?tracker={world.tracker_a.pk}"),
    ]  # fmt: skip
    for user, shown in ((world.a_admin, True), (world.a_viewer, False)):
        client.force_login(user)
        for page, query in pages:
            html = client.get(page).content.decode()
            assert (reverse("portal:share-links") + query in html) is shown, (user, page)


def test_viewer_sees_the_list_without_forms_and_may_not_post(client, world):
    link = _link(world, label="for the carrier").link
    client.force_login(world.a_viewer)
    page = client.get(reverse("portal:share-links"))
    html = page.content.decode()
    assert "for the carrier" in html
    assert page.context["form"] is None
    assert reverse("portal:share-link-revoke", args=[link.pk]) not in html
    posted = client.post(
        reverse("portal:share-links"), {"target": f"tracker:{world.tracker_a.pk}", "ends": "7"}
    )
    assert posted.status_code == 403
    assert client.post(reverse("portal:share-link-revoke", args=[link.pk])).status_code == 403
    assert ShareLink.objects.count() == 1
    assert ShareLink.objects.get().revoked_at is None


def test_other_clients_link_is_404_and_not_listed(client, world):
    link = _link(world, label="alpha only").link
    client.force_login(world.b_admin)
    assert "alpha only" not in client.get(reverse("portal:share-links")).content.decode()
    assert client.post(reverse("portal:share-link-revoke", args=[link.pk])).status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_admin_revokes_from_the_list(client, world):
    link = _link(world).link
    client.force_login(world.a_admin)
    response = client.post(reverse("portal:share-link-revoke", args=[link.pk]), follow=True)
    assert "revoked" in response.content.decode()
    link.refresh_from_db()
    assert link.revoked_at is not None


def test_share_link_list_query_count_does_not_grow_with_rows(client, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.a_admin)
    for _ in range(10):
        _link(world)
    client.get(reverse("portal:share-links"))  # warm the session and the header's cached count
    with CaptureQueriesContext(connection) as ten:
        client.get(reverse("portal:share-links"))
    for n in range(40):
        _link(world, tracker=None, production_run=world.run_a)
        _link(world, tracker=TrackerFactory(production_run=world.run_a), label=f"t{n}")
    with CaptureQueriesContext(connection) as ninety:
        response = client.get(reverse("portal:share-links"))
    assert len(response.context["links"]) == 90
    assert len(ninety) == len(ten), [q["sql"] for q in ninety.captured_queries]

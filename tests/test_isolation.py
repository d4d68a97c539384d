"""The isolation matrix: every portal page and API endpoint, for every persona.

Add each new page or endpoint to PAGES. `owner` names the client whose object the URL shows
("a" or "b"), or None for pages every logged-in user may open (they then list only their own).
Expected: staff and the owner's members get 200, members of the other client get 404,
anonymous users are sent to log in (portal) or refused (API).
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse


@dataclass(frozen=True)
class Page:
    name: str
    url: Callable[[object], str]
    owner: str | None
    api: bool = False


PAGES = [
    Page("dashboard", lambda w: reverse("portal:dashboard"), owner=None),
    Page("run A", lambda w: reverse("portal:run-detail", args=[w.run_a.pk]), owner="a"),
    Page("run B", lambda w: reverse("portal:run-detail", args=[w.run_b.pk]), owner="b"),
    Page(
        "tracker history A",
        lambda w: reverse("geofencing:tracker-history", args=[w.tracker_a.pk]),
        owner="a",
    ),
    Page(
        "tracker history B",
        lambda w: reverse("geofencing:tracker-history", args=[w.tracker_b.pk]),
        owner="b",
    ),
    Page("api runs", lambda w: reverse("api:production-run-list"), owner=None, api=True),
    Page(
        "api run A",
        lambda w: reverse("api:production-run-detail", args=[w.run_a.pk]),
        owner="a",
        api=True,
    ),
    Page("api trackers", lambda w: reverse("api:tracker-list"), owner=None, api=True),
    Page(
        "api tracker B",
        lambda w: reverse("api:tracker-detail", args=[w.tracker_b.pk]),
        owner="b",
        api=True,
    ),
]

PERSONAS = {"staff": None, "a_admin": "a", "a_viewer": "a", "b_admin": "b"}


def _expected(page: Page, persona: str) -> int:
    client = PERSONAS[persona]
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
    if page.api:
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert reverse("login") in response["Location"]

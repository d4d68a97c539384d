"""The fleet-wide tracker list: scoping, search by MAC (any spelling, partial) and label,
filters, sorting, pages that keep the filters, and a fixed number of queries."""

from datetime import timedelta

import pytest
from django.contrib.gis.geos import Point
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.factories import BrandFactory, ProductionRunFactory, TrackerFactory
from tests.portal.bulk import trackers_bulk
from tracking.models import Tracker

pytestmark = pytest.mark.django_db

URL = reverse("portal:tracker-list")


def _set(tracker, **fields):
    Tracker.objects.filter(pk=tracker.pk).update(**fields)
    tracker.refresh_from_db()
    return tracker


def _macs(response) -> list[str]:
    return [t["mac_address"] for t in response.context["page"]]


@pytest.fixture
def fleet(world):
    """Client A: four trackers in two runs of two brands, in two cities, seen at different
    times; client B's tracker is in Vienna too."""
    now = timezone.now()
    other_brand = BrandFactory(client=world.client_a, name="Zeta brand")
    other_run = ProductionRunFactory(brand=other_brand, name="Zeta run")
    a = world.tracker_a
    _set(a, mac_address="AA:BB:CC:00:00:01", label="Pallet north", status="IN_TRANSIT",
         nearest_city="Vienna", last_report_at=now - timedelta(minutes=12))  # fmt: skip
    b = _set(TrackerFactory(production_run=world.run_a), mac_address="AA:BB:CC:00:00:02",
             label="Crate 7", status="DELIVERED", nearest_city="Graz",
             last_report_at=now - timedelta(hours=5))  # fmt: skip
    c = _set(TrackerFactory(production_run=other_run), mac_address="11:22:33:44:55:66",
             label="pallet south", status="IN_STORAGE", nearest_city="Vienna",
             last_report_at=now - timedelta(days=10))  # fmt: skip
    d = _set(TrackerFactory(production_run=other_run), mac_address="11:22:33:44:55:77",
             label="", status="UNKNOWN")  # fmt: skip
    _set(world.tracker_b, mac_address="AA:BB:CC:00:00:03", label="Pallet Bravo",
         nearest_city="Vienna", last_report_at=now)  # fmt: skip
    world.fleet = {"a": a, "b": b, "c": c, "d": d, "brand": other_brand, "run": other_run}
    return world


def test_tracker_list_shows_own_trackers_only(client, fleet):
    client.force_login(fleet.a_viewer)
    response = client.get(URL)
    assert response.status_code == 200
    assert _macs(response) == [
        "11:22:33:44:55:66", "11:22:33:44:55:77", "AA:BB:CC:00:00:01", "AA:BB:CC:00:00:02"
    ]  # fmt: skip
    html = response.content.decode()
    assert "AA:BB:CC:00:00:03" not in html and "Pallet Bravo" not in html
    assert "12 min ago" in html and "5 h ago" in html and "10 d ago" in html


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("aa-bb-cc-00-00-01", ["AA:BB:CC:00:00:01"]),
        ("aabb.cc00.0001", ["AA:BB:CC:00:00:01"]),
        ("AABBCC000001", ["AA:BB:CC:00:00:01"]),
        ("aa:bb:cc", ["AA:BB:CC:00:00:01", "AA:BB:CC:00:00:02"]),  # partial, not B's
        ("44-55-6", ["11:22:33:44:55:66"]),
        ("5577", ["11:22:33:44:55:77"]),
        ("pallet", ["11:22:33:44:55:66", "AA:BB:CC:00:00:01"]),  # label, any case
        ("crate 7", ["AA:BB:CC:00:00:02"]),
        ("nothing like it", []),
    ],
)
def test_tracker_list_search_by_mac_any_spelling_or_label(client, fleet, q, expected):
    client.force_login(fleet.a_admin)
    assert _macs(client.get(URL, {"q": q})) == expected


def test_tracker_list_filters(client, fleet):
    client.force_login(fleet.a_admin)
    f = fleet.fleet
    cases = [
        ({"status": "DELIVERED"}, [f["b"]]),
        ({"brand": f["brand"].pk}, [f["c"], f["d"]]),
        ({"production_run": fleet.run_a.pk}, [f["a"], f["b"]]),
        ({"city": "Vienna"}, [f["c"], f["a"]]),
        ({"city": "vien"}, [f["c"], f["a"]]),  # a part of the name, any case
        ({"seen": "1h"}, [f["a"]]),
        ({"seen": "24h"}, [f["a"], f["b"]]),
        ({"seen": "7d"}, [f["a"], f["b"]]),
        ({"seen": "older7d"}, [f["c"]]),
        ({"seen": "never"}, [f["d"]]),
        ({"city": "Vienna", "status": "IN_TRANSIT"}, [f["a"]]),
        (
            {
                "seen_from": (timezone.localdate() - timedelta(days=11)).isoformat(),
                "seen_to": (timezone.localdate() - timedelta(days=9)).isoformat(),
            },
            [f["c"]],
        ),
    ]
    for params, expected in cases:
        response = client.get(URL, params)
        assert _macs(response) == sorted(t.mac_address for t in expected), params


def test_tracker_list_refuses_another_clients_run_and_brand_as_a_choice(client, fleet):
    client.force_login(fleet.a_admin)
    response = client.get(URL, {"production_run": fleet.run_b.pk})
    assert "production_run" in response.context["form"].errors
    assert 'id="filter-errors"' in response.content.decode()
    assert "AA:BB:CC:00:00:03" not in _macs(response)
    html = response.content.decode()
    assert fleet.run_b.name not in html and fleet.run_b.brand.name not in html
    assert fleet.run_a.name in html  # its own run is a choice


def test_tracker_list_sorts_by_each_column_both_ways_ties_by_id(client, fleet):
    client.force_login(fleet.a_admin)
    f = fleet.fleet
    expected = {
        "label": [f["d"], f["b"], f["a"], f["c"]],  # "" < "Crate" < "Pallet" < "pallet"
        "status": [f["b"], f["c"], f["a"], f["d"]],
        "city": [f["d"], f["b"], f["a"], f["c"]],  # "" first, then Graz, Vienna (by id)
        "seen": [f["c"], f["b"], f["a"], f["d"]],  # never seen: last
        "run": [f["a"], f["b"], f["c"], f["d"]],  # "Alpha spring run" < "Zeta run"
        "brand": [f["a"], f["b"], f["c"], f["d"]],  # "Brand N" < "Zeta brand"
        "mac": [f["c"], f["d"], f["a"], f["b"]],
    }
    for key, order in expected.items():
        assert _macs(client.get(URL, {"sort": key})) == [t.mac_address for t in order], key
        reverse_order = [t.mac_address for t in reversed(order)]
        if key == "seen":  # never seen stays last both ways
            reverse_order = [f["a"].mac_address, f["b"].mac_address, f["c"].mac_address,
                             f["d"].mac_address]  # fmt: skip
        assert _macs(client.get(URL, {"sort": f"-{key}"})) == reverse_order, f"-{key}"
    # Unknown sort keys fall back to the MAC order instead of reaching the database.
    response = client.get(URL, {"sort": "private_key_encrypted"})
    assert _macs(response) == sorted(_macs(response))


def test_tracker_list_ties_are_broken_by_id_so_pages_never_overlap(client, world):
    trackers = trackers_bulk(world.run_a, 120)  # statuses in turn: many equal values
    client.force_login(world.a_admin)
    seen = []
    for page in (1, 2, 3):
        seen += [t["id"] for t in client.get(URL, {"sort": "status", "page": page}).context["page"]]
    assert len(seen) == len(set(seen)) == 121
    assert {t.pk for t in trackers} <= set(seen)


def test_tracker_list_pages_keep_the_filters(client, world):
    trackers_bulk(world.run_a, 120)
    client.force_login(world.a_admin)
    response = client.get(URL, {"status": "DELIVERED", "sort": "-label", "page": "1"})
    page = response.context["page"]
    assert page.paginator.count == 30 and len(page.object_list) == 30
    response = client.get(URL, {"q": "pallet", "sort": "-label"})
    assert response.context["page"].paginator.num_pages == 3
    html = response.content.decode()
    assert 'href="?q=pallet&amp;sort=-label&amp;page=2"' in html
    assert "Page 1 of 3" in html
    second = client.get(URL, {"q": "pallet", "sort": "-label", "page": "2"})
    assert second.context["page"].number == 2
    assert 'href="?q=pallet&amp;sort=-label&amp;page=1"' in second.content.decode()
    # The column headings keep the filters and drop the page.
    assert 'href="?q=pallet&amp;sort=mac"' in second.content.decode()
    # A page past the end shows the last page, a bad page the first.
    assert client.get(URL, {"page": "99"}).context["page"].number == 3
    assert client.get(URL, {"page": "x"}).context["page"].number == 1


def test_tracker_list_export_link_keeps_the_filters(client, fleet):
    client.force_login(fleet.a_admin)
    html = client.get(URL, {"city": "Vienna", "sort": "-seen", "page": "1"}).content.decode()
    export = reverse("portal:tracker-list-export")
    assert f'href="{export}?city=Vienna&amp;sort=-seen"' in html


def test_tracker_list_times_follow_the_active_timezone(client, fleet, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    client.force_login(fleet.a_admin)
    html = client.get(URL).content.decode()
    local = timezone.localtime(fleet.fleet["a"].last_report_at)
    assert f'title="{local:%Y-%m-%d %H:%M} JST"' in html


def test_tracker_list_shows_label_forms_to_admins_only(client, fleet):
    client.force_login(fleet.a_viewer)
    html = client.get(URL).content.decode()
    assert 'class="label-form"' not in html and 'id="labels-upload"' not in html
    client.force_login(fleet.a_admin)
    html = client.get(URL).content.decode()
    assert html.count('class="label-form"') == 4 and 'id="labels-upload"' in html


def _count_queries(client, url, params=None) -> int:
    client.get(url, params)  # warm the header's cached unread count
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_tracker_list_queries_do_not_grow_with_trackers(client, world):
    client.force_login(world.a_admin)
    trackers_bulk(world.run_a, 10)
    Tracker.objects.filter(client=world.client_a).update(nearest_city="Vienna")
    few = _count_queries(client, URL)
    few_filtered = _count_queries(client, URL, {"q": "pallet", "seen": "7d", "sort": "-run"})
    trackers_bulk(world.run_a, 990)
    many_run = ProductionRunFactory(client=world.client_a, name="Alpha autumn run")
    trackers_bulk(many_run, 100)
    Tracker.objects.filter(client=world.client_a).update(nearest_city="Graz")
    assert _count_queries(client, URL) == few
    assert (
        _count_queries(client, URL, {"q": "pallet", "seen": "7d", "sort": "-run"}) == few_filtered
    )
    assert _count_queries(client, URL, {"page": "20"}) == few


def test_tracker_list_never_reads_reports(client, world):
    from tests.portal.bulk import trackers_bulk as bulk

    bulk(world.run_a, 60)
    Tracker.objects.filter(pk=world.tracker_a.pk).update(last_point=Point(-70.6, -33.4, srid=4326))
    client.force_login(world.a_admin)
    client.get(URL)
    with CaptureQueriesContext(connection) as queries:
        client.get(URL, {"q": "aa", "sort": "-seen", "page": "2"})
    assert not [q for q in queries if "locationreport" in q["sql"].lower()]
    assert not [q for q in queries if "rollup" in q["sql"].lower()]


def test_tracker_list_escapes_labels_and_cities(client, fleet):
    _set(fleet.tracker_a, label='<b>bold</b>" onmouseover="x', nearest_city="<i>Wien</i>")
    for user in (fleet.a_admin, fleet.a_viewer):  # in the label form, and as text
        client.force_login(user)
        html = client.get(URL).content.decode()
        assert "<b>bold</b>" not in html and "<i>Wien</i>" not in html
        assert "&lt;b&gt;bold&lt;/b&gt;&quot; onmouseover=&quot;x" in html
        assert "&lt;i&gt;Wien&lt;/i&gt;" in html

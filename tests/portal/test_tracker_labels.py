"""Tracker labels: one at a time from the list, many from a CSV file (every row checked
first, nothing written when one is wrong), audited."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.html import escape

from tests.factories import ClientFactory, MembershipFactory, ProductionRunFactory, TrackerFactory
from tracking import services
from tracking.models import AuditEvent, Membership, Tracker

pytestmark = pytest.mark.django_db

LIST = reverse("portal:tracker-list")
UPLOAD = reverse("portal:tracker-labels-upload")


def _labels(*trackers) -> list[str]:
    return [Tracker.objects.get(pk=t.pk).label for t in trackers]


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


# --- One label ------------------------------------------------------------------------------


def test_admin_sets_a_label_and_returns_to_the_list_with_its_filters(client, world):
    client.force_login(world.a_admin)
    back = f"{LIST}?q=aa&sort=-seen&page=1"
    response = client.post(
        reverse("portal:tracker-label", args=[world.tracker_a.pk]),
        {"label": "  Pallet\n 12  ", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
    assert _labels(world.tracker_a) == ["Pallet 12"]
    event = AuditEvent.objects.get(action="tracker.label")
    assert event.actor == world.a_admin and event.client == world.client_a
    assert event.details == {"tracker": world.tracker_a.pk, "before": "", "after": "Pallet 12"}


def test_label_edit_refuses_a_long_label_and_keeps_the_old_one(client, world):
    Tracker.objects.filter(pk=world.tracker_a.pk).update(label="Old")
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:tracker-label", args=[world.tracker_a.pk]), {"label": "x" * 201},
        follow=True,
    )  # fmt: skip
    assert "at most 200 characters; this has 201" in _messages(response)
    assert _labels(world.tracker_a) == ["Old"]
    assert not AuditEvent.objects.filter(action="tracker.label").exists()


def test_label_edit_goes_back_to_the_list_not_to_another_site(client, world):
    client.force_login(world.a_admin)
    response = client.post(
        reverse("portal:tracker-label", args=[world.tracker_a.pk]),
        {"label": "A", "next": "https://evil.example.com/"},
    )
    assert response["Location"] == LIST


def test_label_edit_viewer_403_other_client_404(client, world):
    url = reverse("portal:tracker-label", args=[world.tracker_a.pk])
    client.force_login(world.a_viewer)
    assert client.post(url, {"label": "V"}).status_code == 403
    client.force_login(world.b_admin)
    assert client.post(url, {"label": "B"}).status_code == 404
    assert client.get(url).status_code == 405
    assert _labels(world.tracker_a) == [""]


# --- Labels from a CSV file --------------------------------------------------------------


@pytest.fixture
def labelled(world):
    world.tracker_a2 = TrackerFactory(production_run=world.run_a, label="keep me")
    return world


def _upload(client, world, text: str | bytes, *, client_id=None):
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        UPLOAD,
        {
            "client": client_id or world.client_a.pk,
            "labels_file": SimpleUploadedFile("labels.csv", data, content_type="text/csv"),
        },
        follow=True,
    )


def _dashed(mac: str) -> str:
    return mac.replace(":", "-").lower()


def _bare(mac: str) -> str:
    return mac.replace(":", "")


def test_csv_labels_any_mac_spelling_and_audited(client, labelled):
    w = labelled
    client.force_login(w.a_admin)
    csv_text = (
        "\ufeffMAC;Label\r\n"
        f"{_dashed(w.tracker_a.mac_address)};Pallet 1\r\n"
        "\r\n"
        f"{_bare(w.tracker_a2.mac_address)};keep me\r\n"
    )
    response = _upload(client, w, csv_text)
    assert "1 label changed, 1 already as in the file (Alpha Logistics)" in _messages(response)
    assert _labels(w.tracker_a, w.tracker_a2) == ["Pallet 1", "keep me"]
    event = AuditEvent.objects.get(action="tracker.labels_import")
    assert event.client == w.client_a and event.actor == w.a_admin
    assert event.details["changed"] == 1 and event.details["rows"] == 2
    assert event.details["changes"] == [[w.tracker_a.mac_address, "", "Pallet 1"]]


def test_csv_labels_columns_in_any_order_extra_columns_ignored_utf16(client, labelled):
    w = labelled
    client.force_login(w.a_admin)
    text = f"label,serial,mac\r\nÜberseekiste,17,{w.tracker_a.mac_address.lower()}\r\n"
    _upload(client, w, text.encode("utf-16"))
    assert _labels(w.tracker_a) == ["Überseekiste"]


def test_csv_labels_every_bad_row_named_and_nothing_written(client, labelled):
    w = labelled
    # Alice also administers a third client: its tracker is "of another client", named.
    third = ClientFactory(name="Charlie Foods")
    MembershipFactory(user=w.a_admin, client=third, role=Membership.Role.ADMIN)
    charlie = TrackerFactory(production_run=ProductionRunFactory(client=third))
    client.force_login(w.a_admin)
    rows = [
        "mac,label",
        f"{w.tracker_a.mac_address},Fine",  # row 2: fine, yet not written
        "zz:zz:zz:zz:zz:zz,Bad",  # row 3
        f"{_bare(w.tracker_b.mac_address)},Not yours",  # row 4: B's: unknown to Alice
        f"{_dashed(w.tracker_a.mac_address)},Twice",  # row 5
        f"{w.tracker_a2.mac_address},{'y' * 201}",  # row 6
        f"{charlie.mac_address},Charlie's",  # row 7
        ",no mac",  # row 8
        "00:00:00:00:00:01,unknown",  # row 9
    ]
    response = _upload(client, w, "\n".join(rows))
    text = _messages(response)
    assert "Refused, no label was changed" in text
    expected = [
        'Row 3, mac: "zz:zz:zz:zz:zz:zz" is not a MAC address.',
        f'Row 4, mac: "{_bare(w.tracker_b.mac_address)}" is unknown: Alpha Logistics has no'
        " tracker with this MAC.",
        f'Row 5, mac: "{_dashed(w.tracker_a.mac_address)}" repeats row 2.',
        f'Row 6, label: "{"y" * 40}…" is 201 characters long; a label has at most 200.',
        f'Row 7, mac: "{charlie.mac_address}" is a tracker of another client (Charlie Foods),'
        " not of Alpha Logistics.",
        "Row 8, mac: empty; every row needs a MAC address.",
        'Row 9, mac: "00:00:00:00:00:01" is unknown: Alpha Logistics has no tracker with this MAC.',
    ]
    with pytest.raises(ValidationError) as refused:
        services.tracker_labels_import(user=w.a_admin, client=w.client_a, data="\n".join(rows))
    assert refused.value.messages == expected
    for message in expected:
        assert escape(message) in text
    assert "Bravo" not in text  # B's tracker is not told to be anyone's
    assert _labels(w.tracker_a, w.tracker_a2, w.tracker_b, charlie) == ["", "keep me", "", ""]
    assert not AuditEvent.objects.filter(action="tracker.labels_import").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AA:BB:CC:DD:EE:FF,Pallet\n", "Row 1: the header must name the columns mac and label"),
        ("mac;name\nAA:BB:CC:DD:EE:FF;x\n", "Row 1: the header must name the columns mac and"),
        ("\n \n", "The file is empty"),
        ("", "The submitted file is empty"),
        ("mac,label\n\n", "The file has a header but no rows."),
        (b"mac,label\n\xff\xfe\xfa", "is not UTF-8 text"),
    ],
)
def test_csv_labels_refuses_files_without_header_or_rows(client, labelled, text, message):
    client.force_login(labelled.a_admin)
    response = _upload(client, labelled, text)
    assert message in _messages(response)
    assert _labels(labelled.tracker_a2) == ["keep me"]


def test_csv_labels_size_limit_names_it(client, labelled, settings):
    settings.UPLOAD_MAX_BYTES = 1_000
    client.force_login(labelled.a_admin)
    response = _upload(client, labelled, "mac,label\n" + "AA:BB:CC:DD:EE:FF,x\n" * 100)
    assert "larger than the limit of 0.001 MB" in _messages(response)


def test_csv_labels_viewer_403_other_client_refused(client, labelled):
    w = labelled
    text = f"mac,label\n{w.tracker_a.mac_address},Hijack\n"
    client.force_login(w.a_viewer)  # a viewer of A and admin of nothing
    assert client.post(UPLOAD, {"client": w.client_a.pk}).status_code == 403
    client.force_login(w.b_admin)  # B's admin naming A as the client: A is not B's to see
    assert client.post(UPLOAD, {"client": w.client_a.pk}).status_code == 404
    assert client.post(UPLOAD, {"client": "x"}).status_code == 404
    # and B's admin for B: A's tracker is unknown to B
    response = _upload(client, w, text, client_id=w.client_b.pk)
    assert "is unknown: Bravo Retail has no tracker with this MAC" in _messages(response)
    assert _labels(w.tracker_a) == [""]


def test_csv_labels_of_a_thousand_trackers_in_few_queries(
    client, world, django_assert_max_num_queries
):
    from tests.portal.bulk import trackers_bulk

    trackers = trackers_bulk(world.run_a, 1000)
    text = "mac,label\n" + "".join(f"{t.mac_address},Box {n}\n" for n, t in enumerate(trackers))
    with django_assert_max_num_queries(12):
        result = services.tracker_labels_import(
            user=world.a_admin, client=world.client_a, data=text
        )
    assert result.changed == 1000
    assert Tracker.objects.get(pk=trackers[999].pk).label == "Box 999"


def test_csv_labels_look_up_many_macs_in_batches(world, monkeypatch):
    from tests.portal.bulk import trackers_bulk

    monkeypatch.setattr(services.labels, "LABEL_LOOKUP_BATCH", 7)
    trackers = trackers_bulk(world.run_a, 30)
    text = "mac,label\n" + "".join(f"{t.mac_address},Crate {n}\n" for n, t in enumerate(trackers))
    result = services.tracker_labels_import(user=world.a_admin, client=world.client_a, data=text)
    assert result.changed == 30
    assert sorted(
        Tracker.objects.filter(label__startswith="Crate ").values_list("pk", flat=True)
    ) == (sorted(t.pk for t in trackers))

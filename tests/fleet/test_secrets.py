"""Private keys stay inside: not in admin pages, exports, command output or logs; and the
key that encrypts them can be rotated."""

import base64
import io
import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.urls import reverse

from fleet import services
from tests.fleet.factories import CustomerOrderFactory
from tests.fleet.support import macs
from tracking import encryption
from tracking.models import Tracker


def _forbidden(trackers) -> list[str]:
    out = []
    for tracker in trackers:
        token = bytes(Tracker.objects.get(pk=tracker.pk).private_key_encrypted)
        raw = encryption.decrypt(token)
        out += [raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode(), token.decode()]
        out += [base64.urlsafe_b64encode(raw).decode(), repr(raw)]
    return out


def _assert_absent(text: str, forbidden: list[str]) -> None:
    leaked = [secret for secret in forbidden if secret in text]
    assert not leaked, f"private material in output: {leaked[:2]}"


@pytest.fixture
def active_trackers(world, stock):
    order = CustomerOrderFactory(client=world.client_a, quantity=3)
    trackers = stock(3)
    services.order_allocate(order=order, macs_text=macs(trackers), user=world.staff)
    services.trackers_import(production_run=world.run_a, order=order, user=world.staff)
    return trackers


def test_tracker_admin_pages_never_show_the_private_key(client, world, active_trackers):
    client.force_login(world.staff)
    forbidden = _forbidden(active_trackers)
    pages = [
        reverse("admin:tracking_tracker_changelist"),
        reverse("admin:tracking_tracker_changelist") + "?q=" + active_trackers[0].mac_address,
        reverse("admin:tracking_keybatch_change", args=[active_trackers[0].key_batch_id]),
        reverse("admin:tracking_auditevent_changelist"),
    ]
    pages += [reverse("admin:tracking_tracker_change", args=[t.pk]) for t in active_trackers]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_absent(response.content.decode(), forbidden)
        assert "private_key" not in response.content.decode()


def test_portal_and_api_never_show_the_private_key(client, world, active_trackers):
    client.force_login(world.a_admin)
    forbidden = _forbidden(active_trackers)
    pages = [
        reverse("portal:run-detail", args=[world.run_a.pk]),
        reverse("api:tracker-list"),
        reverse("api:tracker-list") + f"?production_run={world.run_a.pk}",
    ]
    pages += [reverse("api:tracker-detail", args=[t.pk]) for t in active_trackers]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert any(t.mac_address in response.content.decode() for t in active_trackers), url
        _assert_absent(response.content.decode(), forbidden)


def test_private_key_is_in_no_log_line_or_command_output(world, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    output = io.StringIO()
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        call_command("generate_keys", "--batch", "logged", "--count", "5", stdout=output)
        for fmt in ("csv", "json", "bin"):
            out = str(tmp_path / f"x.{fmt}")
            call_command(
                "export_keys", "--batch", "logged", "--format", fmt, "--out", out, stdout=output
            )
        trackers = list(Tracker.objects.filter(key_batch__name="logged").only("mac_address"))
        listing = tmp_path / "macs.txt"
        listing.write_text(macs(trackers))
        CustomerOrderFactory(client=world.client_a, reference="PO-LOG", quantity=5)
        call_command("receive_devices", str(listing), stdout=output)
        call_command("allocate_trackers", str(listing), "--order", "PO-LOG", stdout=output)
        call_command(
            "import_trackers", "--production-run", world.run_a.pk, str(listing), stdout=output
        )
    finally:
        connection.force_debug_cursor = False
    assert 'UPDATE "tracking_tracker"' in caplog.text  # the SQL log was on
    forbidden = _forbidden(trackers)
    _assert_absent(caplog.text, forbidden)
    _assert_absent(output.getvalue(), forbidden)
    for fmt in ("csv", "json"):
        _assert_absent((tmp_path / f"x.{fmt}").read_text(), forbidden)
    binary = (tmp_path / "x.bin").read_bytes()
    for tracker in trackers:
        token = bytes(Tracker.objects.get(pk=tracker.pk).private_key_encrypted)
        assert encryption.decrypt(token) not in binary


KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def test_rotate_encryption_key_moves_every_secret_to_the_new_key(db):
    with override_settings(SECRETS_ENCRYPTION_KEY=KEY_A, SECRETS_ENCRYPTION_OLD_KEYS=[]):
        batch = services.keys_generate(batch_name="rotate", count=30)
        before = {t.pk: encryption.decrypt(t.private_key_encrypted) for t in batch.trackers.all()}

    with override_settings(SECRETS_ENCRYPTION_KEY=KEY_B, SECRETS_ENCRYPTION_OLD_KEYS=[KEY_A]):
        out = io.StringIO()
        call_command("rotate_encryption_key", "--batch-size", "7", stdout=out)
        assert "tracking.Tracker (private_key_encrypted): " in out.getvalue()

    with override_settings(SECRETS_ENCRYPTION_KEY=KEY_B, SECRETS_ENCRYPTION_OLD_KEYS=[]):
        after = {t.pk: encryption.decrypt(t.private_key_encrypted) for t in batch.trackers.all()}
    assert after == before
    b_only = Fernet(KEY_B.encode())
    for tracker in batch.trackers.all():
        assert b_only.decrypt(bytes(tracker.private_key_encrypted)) == before[tracker.pk]


def test_rotate_encryption_key_without_the_old_key_changes_nothing(db):
    with override_settings(SECRETS_ENCRYPTION_KEY=KEY_A, SECRETS_ENCRYPTION_OLD_KEYS=[]):
        batch = services.keys_generate(batch_name="stuck", count=3)
    tokens = set(batch.trackers.values_list("private_key_encrypted", flat=True))
    with (
        override_settings(SECRETS_ENCRYPTION_KEY=KEY_B, SECRETS_ENCRYPTION_OLD_KEYS=[]),
        pytest.raises(Exception, match="cannot be decrypted"),
    ):
        call_command("rotate_encryption_key", stdout=io.StringIO())
    assert set(batch.trackers.values_list("private_key_encrypted", flat=True)) == tokens

import base64
import csv
import hashlib
import io
import json

import pytest
from django.utils import timezone

from findmy import crypto
from fleet import services
from fleet.exceptions import LifecycleError
from tests.factories import KeyBatchFactory, TrackerFactory
from tracking import encryption
from tracking.models import AuditEvent, KeyBatch, Tracker


def _secrets(batch) -> list[tuple[bytes, bytes]]:
    """(raw private key, Fernet token) for every tracker of the batch."""
    tokens = batch.trackers.values_list("private_key_encrypted", flat=True)
    return [(encryption.decrypt(bytes(t)), bytes(t)) for t in tokens]


def _forbidden(batch) -> list[bytes]:
    """Every spelling of private material that must never leave the system."""
    out = []
    for raw, token in _secrets(batch):
        out += [raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw), token]
    return out


def test_keys_generate_stores_real_key_pairs_encrypted(world):
    batch = services.keys_generate(batch_name="spring", count=25, user=world.staff)

    trackers = list(batch.trackers.all())
    assert len(trackers) == 25
    assert {t.lifecycle_state for t in trackers} == {Tracker.Lifecycle.GENERATED}
    for tracker in trackers:
        private_key = encryption.decrypt(tracker.private_key_encrypted)
        assert len(private_key) == 28
        assert bytes(tracker.private_key_encrypted) != private_key
        identity = crypto.public_identity(private_key)
        assert tracker.mac_address == identity.mac_address
        assert bytes(tracker.advertisement_key) == identity.advertisement_key
        assert tracker.hashed_advertisement_key == identity.hashed_advertisement_key
    assert batch.created_by == world.staff
    event = AuditEvent.objects.get(action="keys.generate")
    assert (event.actor, event.target, event.details["count"]) == (world.staff, "spring", 25)


def test_keys_generate_reports_progress_up_to_the_count(db):
    seen = []
    services.keys_generate(batch_name="p", count=12_345, progress=seen.append)
    assert sum(seen) == 12_345


def test_keys_generate_redraws_a_mac_collision_within_the_batch(db, monkeypatch):
    real = crypto.generate_identity
    first = real()
    draws = iter([first, first])  # the second draw repeats the first MAC
    monkeypatch.setattr(crypto, "generate_identity", lambda: next(draws, None) or real())

    batch = services.keys_generate(batch_name="dup", count=3)

    macs = list(batch.trackers.values_list("mac_address", flat=True))
    assert len(macs) == len(set(macs)) == 3
    assert first[1].mac_address in macs
    assert AuditEvent.objects.get(action="keys.generate").details["redrawn"] == 1


def test_keys_generate_redraws_a_mac_already_in_the_database(db, monkeypatch):
    existing_key = crypto.generate_private_key()
    existing = TrackerFactory(private_key=existing_key)
    real = crypto.generate_identity
    draws = iter([(existing_key, crypto.public_identity(existing_key))])
    monkeypatch.setattr(crypto, "generate_identity", lambda: next(draws, None) or real())

    batch = services.keys_generate(batch_name="clash", count=2)

    assert batch.trackers.count() == 2
    assert not batch.trackers.filter(mac_address=existing.mac_address).exists()
    assert Tracker.objects.filter(mac_address=existing.mac_address).count() == 1
    assert AuditEvent.objects.get(action="keys.generate").details["redrawn"] == 1


def test_keys_generate_refuses_existing_name_and_bad_count(db, unchanged):
    KeyBatchFactory(name="taken")
    check = unchanged()
    with pytest.raises(LifecycleError) as excinfo:
        services.keys_generate(batch_name="taken", count=0)
    assert excinfo.value.messages == [
        'key batch "taken" already exists',
        "count must be between 1 and 1,000,000, not 0",
    ]
    check()


@pytest.mark.parametrize("fmt", ["csv", "json", "bin"])
def test_batch_export_contains_no_private_material(world, fmt):
    batch = services.keys_generate(batch_name="secret-check", count=40)
    content = services.batch_export(batch=batch, fmt=fmt, user=world.staff)
    for secret in _forbidden(batch):
        assert secret not in content


def test_batch_export_csv_lists_public_identifiers(world):
    batch = services.keys_generate(batch_name="csv", count=5)
    content = services.batch_export(batch=batch, fmt="csv", user=world.staff)

    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert list(rows[0]) == [
        "mac_address",
        "advertisement_key_base64",
        "advertisement_key_hex",
        "hashed_advertisement_key",
    ]
    expected = {
        t.mac_address: (bytes(t.advertisement_key), t.hashed_advertisement_key)
        for t in batch.trackers.all()
    }
    assert {row["mac_address"] for row in rows} == set(expected)
    for row in rows:
        adv, hashed = expected[row["mac_address"]]
        assert base64.b64decode(row["advertisement_key_base64"]) == adv
        assert bytes.fromhex(row["advertisement_key_hex"]) == adv
        assert row["hashed_advertisement_key"] == hashed
        assert hashed == base64.b64encode(hashlib.sha256(adv).digest()).decode()


def test_batch_export_json_and_bin_agree_with_csv(world):
    batch = services.keys_generate(batch_name="fmt", count=6)
    document = json.loads(services.batch_export(batch=batch, fmt="json", user=world.staff))
    binary = services.batch_export(batch=batch, fmt="bin", user=world.staff)

    assert document["batch"] == "fmt"
    assert document["count"] == 6
    keys = [bytes.fromhex(d["advertisement_key_hex"]) for d in document["devices"]]
    assert len(binary) == 6 * 28
    assert [binary[i : i + 28] for i in range(0, len(binary), 28)] == keys
    assert [d["mac_address"] for d in document["devices"]] == sorted(
        batch.trackers.values_list("mac_address", flat=True)
    )


def test_batch_export_moves_batch_to_exported_and_audits_the_file(world):
    batch = services.keys_generate(batch_name="audit", count=4)
    before = timezone.now()
    content = services.batch_export(batch=batch, fmt="bin", user=world.staff)
    after = timezone.now()

    batch.refresh_from_db()
    assert batch.state == KeyBatch.State.EXPORTED
    assert set(batch.trackers.values_list("lifecycle_state", flat=True)) == {"EXPORTED"}
    event = AuditEvent.objects.get(action="keys.export")
    assert event.actor == world.staff
    assert event.target == "audit"
    assert before <= event.at <= after  # dated by the export, not by the batch
    assert event.details["format"] == "bin"
    assert event.details["count"] == 4
    assert event.details["sha256"] == hashlib.sha256(content).hexdigest()


def test_batch_export_again_gives_the_same_file_and_another_audit_row(world, stock):
    trackers = stock(3, name="again")  # exported and received already
    batch = trackers[0].key_batch
    first = services.batch_export(batch=batch, fmt="csv", user=world.staff)
    second = services.batch_export(batch=batch, fmt="csv", user=world.staff)

    assert first == second
    assert AuditEvent.objects.filter(action="keys.export", target="again").count() == 3
    assert set(batch.trackers.values_list("lifecycle_state", flat=True)) == {"IN_STOCK"}


def test_batch_export_refuses_unknown_format(world, unchanged):
    batch = services.keys_generate(batch_name="x", count=1)
    check = unchanged()
    with pytest.raises(LifecycleError, match='unknown export format "xml"'):
        services.batch_export(batch=batch, fmt="xml", user=world.staff)
    check()


@pytest.mark.parametrize("position", [0, 4, 6])
def test_keys_generate_redraws_stored_macs_in_any_chunk(db, monkeypatch, position):
    monkeypatch.setattr(services.keys, "_CHUNK", 3)
    existing_key = crypto.generate_private_key()
    existing = TrackerFactory(private_key=existing_key)
    real = crypto.generate_identity
    calls = iter(range(1000))

    def draw():
        if next(calls) == position:
            return existing_key, crypto.public_identity(existing_key)
        return real()

    monkeypatch.setattr(crypto, "generate_identity", draw)
    seen = []
    batch = services.keys_generate(batch_name="chunks", count=7, progress=seen.append)

    assert batch.trackers.count() == 7
    assert sum(seen) == 7
    assert not batch.trackers.filter(mac_address=existing.mac_address).exists()
    assert AuditEvent.objects.get(action="keys.generate").details["redrawn"] == 1

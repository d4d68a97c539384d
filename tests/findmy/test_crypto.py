"""findmy.crypto against the fixed FindMy test vectors (tests/data/findmy_vectors.json)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from findmy import crypto
from findmy.crypto import ReportDecryptionError

VECTORS = json.loads((Path(__file__).parent.parent / "data" / "findmy_vectors.json").read_text())
KEYS = VECTORS["keys"]
REPORTS = VECTORS["reports"]
NEGATIVE = VECTORS["negative_reports"]


def b64(value: str) -> bytes:
    return base64.b64decode(value)


def private_key(index: int) -> bytes:
    return b64(KEYS[index]["private_key_b64"])


def by_id(entries: list[dict]) -> dict:
    return {"argvalues": entries, "ids": [str(e.get("id", e.get("index"))) for e in entries]}


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize("vec", **by_id(KEYS))
def test_public_identity_matches_vector(vec):
    identity = crypto.public_identity(b64(vec["private_key_b64"]))
    assert identity.advertisement_key == b64(vec["advertisement_key_b64"])
    assert identity.advertisement_key.hex() == vec["advertisement_key_hex"]
    assert identity.hashed_advertisement_key == vec["hashed_advertisement_key_b64"]
    assert len(identity.hashed_advertisement_key) == 44
    assert identity.mac_address == vec["mac_address"]


@pytest.mark.parametrize("vec", **by_id(KEYS))
def test_ble_fields_match_vector(vec):
    adv, ble = b64(vec["advertisement_key_b64"]), vec["ble"]
    data = crypto.ble_advertisement(adv, status=ble["status"], hint=ble["hint"])
    assert len(data) == 31
    assert data.hex() == ble["advertising_data_hex"]
    # AD structure: length, type 0xff, then manufacturer data (Apple id 0x004c, then OF data).
    assert data[2:].hex() == ble["manufacturer_data_hex"]
    assert data[4:].hex() == ble["offline_finding_data_hex"]
    assert crypto.ble_address_bytes(adv).hex() == ble["random_static_address_on_air_le_hex"]


@pytest.mark.parametrize("vec", **by_id(KEYS))
def test_ble_address_bytes_reverse_mac(vec):
    adv = b64(vec["advertisement_key_b64"])
    mac = bytes.fromhex(vec["mac_address"].replace(":", ""))
    assert crypto.ble_address_bytes(adv) == mac[::-1]


def test_ble_advertisement_status_and_hint_placed():
    adv = b64(KEYS[3]["advertisement_key_b64"])
    data = crypto.ble_advertisement(adv, status=0x20, hint=0xA5)
    assert data[6] == 0x20 and data[-1] == 0xA5
    assert data[-2] == adv[0] >> 6 == 3


def test_key_vectors_cover_every_top_bit_pattern():
    assert {b64(k["advertisement_key_b64"])[0] >> 6 for k in KEYS} == {0, 1, 2, 3}


UNPADDED = [k for k in KEYS if "private_key_unpadded_b64" in k]


@pytest.mark.parametrize("vec", **by_id(UNPADDED))
def test_public_identity_unpadded_27_byte_key_accepted(vec):
    short = b64(vec["private_key_unpadded_b64"])
    assert len(short) == 27
    assert b"\x00" + short == b64(vec["private_key_b64"])
    identity = crypto.public_identity(short)
    assert identity == crypto.public_identity(b64(vec["private_key_b64"]))
    assert identity.advertisement_key.hex() == vec["advertisement_key_hex"]
    assert identity.mac_address == vec["mac_address"]


def test_unpadded_vector_present():
    assert UNPADDED


@pytest.mark.parametrize("length", [0, 1, 26, 29, 32])
def test_public_identity_bad_length_raises_value_error(length):
    with pytest.raises(ValueError, match="28"):
        crypto.public_identity(b"\x01" * length)


@pytest.mark.parametrize("scalar", [b"\x00" * 28, b"\xff" * 28], ids=["zero", "above_order"])
def test_public_identity_invalid_scalar_raises_value_error(scalar):
    with pytest.raises(ValueError, match="P-224 scalar"):
        crypto.public_identity(scalar)


def test_generate_private_key_28_random_bytes():
    keys = {crypto.generate_private_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(isinstance(k, bytes) and len(k) == 28 for k in keys)


def test_generate_private_key_round_trips_public_identity():
    for _ in range(20):
        key = crypto.generate_private_key()
        identity = crypto.public_identity(key)
        assert len(identity.advertisement_key) == 28
        assert identity.mac_address == identity.mac_address.upper()
        assert len(identity.mac_address) == 17


def test_generate_identity_matches_public_identity():
    for _ in range(20):
        key, identity = crypto.generate_identity()
        assert len(key) == 28
        assert crypto.public_identity(key) == identity


def test_identity_frozen():
    identity = crypto.public_identity(private_key(0))
    with pytest.raises(AttributeError):
        identity.mac_address = "00:00:00:00:00:00"


# --- reports ------------------------------------------------------------------------------


def check_expected(report: crypto.DecryptedReport, expected: dict) -> None:
    assert report.observed_at == datetime.fromtimestamp(expected["timestamp_unix"], UTC)
    assert report.observed_at.tzinfo is not None and report.observed_at.utcoffset().seconds == 0
    stamp = expected["timestamp_utc"].replace("Z", "+00:00")
    assert report.observed_at == datetime.fromisoformat(stamp)
    assert expected["timestamp_unix"] == expected["timestamp_apple"] + 978307200
    assert report.confidence == expected["confidence"]
    assert report.latitude == expected["latitude_e7"] / 1e7 == expected["latitude"]
    assert report.longitude == expected["longitude_e7"] / 1e7 == expected["longitude"]
    assert report.horizontal_accuracy == expected["horizontal_accuracy"]
    assert report.status == expected["status"]


@pytest.mark.parametrize("vec", **by_id(REPORTS))
def test_decrypt_report_matches_vector(vec):
    payload = b64(vec["payload_b64"])
    assert len(payload) == vec["layout"]
    check_expected(crypto.decrypt_report(private_key(vec["key_index"]), payload), vec["expected"])


@pytest.mark.parametrize("vec", **by_id(REPORTS))
def test_decrypt_report_with_key_matches_vector(vec):
    key = crypto.load_private_key(private_key(vec["key_index"]))
    report = crypto.decrypt_report_with_key(key, b64(vec["payload_b64"]))
    check_expected(report, vec["expected"])


def test_report_vectors_cover_both_layouts_and_all_hemispheres():
    assert {r["layout"] for r in REPORTS} == {88, 89}
    signs = {(r["expected"]["latitude_e7"] < 0, r["expected"]["longitude_e7"] < 0) for r in REPORTS}
    assert signs == {(False, False), (False, True), (True, False), (True, True)}


def test_decrypt_report_southern_western_hemisphere_negative():
    vec = next(
        r for r in REPORTS if r["expected"]["latitude_e7"] < 0 > r["expected"]["longitude_e7"]
    )
    report = crypto.decrypt_report(private_key(vec["key_index"]), b64(vec["payload_b64"]))
    assert report.latitude < 0 and report.longitude < 0
    assert report.latitude == vec["expected"]["latitude_e7"] / 1e7


def test_decrypt_report_unpadded_key_decrypts():
    vec = UNPADDED[0]
    report_vec = next(r for r in REPORTS if r["key_index"] == vec["index"])
    report = crypto.decrypt_report(
        b64(vec["private_key_unpadded_b64"]), b64(report_vec["payload_b64"])
    )
    check_expected(report, report_vec["expected"])


@pytest.mark.parametrize("vec", **by_id(NEGATIVE))
def test_decrypt_report_negative_vector_as_expected(vec):
    key, payload = private_key(vec["key_index"]), b64(vec["payload_b64"])
    if vec["expected_error"] is None:
        report = crypto.decrypt_report(key, payload)  # timestamp/confidence are not authenticated
        original = next(r for r in REPORTS if r["id"] == vec["derived_from"])
        assert report.latitude == original["expected"]["latitude"]
        assert report.longitude == original["expected"]["longitude"]
    else:
        assert vec["expected_error"].split()[0] in ("InvalidTag", "ValueError")
        with pytest.raises(ReportDecryptionError):
            crypto.decrypt_report(key, payload)


def test_report_decryption_error_is_value_error():
    assert issubclass(ReportDecryptionError, ValueError)


@pytest.mark.parametrize("length", [0, 1, 87, 90, 120])
def test_decrypt_report_bad_length_raises_report_error(length):
    payload = (b64(REPORTS[0]["payload_b64"]) * 2)[:length]
    with pytest.raises(ReportDecryptionError, match="88 or 89"):
        crypto.decrypt_report(private_key(REPORTS[0]["key_index"]), payload)


@pytest.mark.parametrize("key", [b"", b"\x01" * 16, b"\x00" * 28], ids=["empty", "short", "zero"])
def test_decrypt_report_bad_key_raises_report_error(key):
    with pytest.raises(ReportDecryptionError):
        crypto.decrypt_report(key, b64(REPORTS[0]["payload_b64"]))


def test_decrypt_report_89_extra_byte_ignored():
    vec = next(r for r in REPORTS if r["layout"] == 89)
    payload = bytearray(b64(vec["payload_b64"]))
    payload[4] ^= 0xFF
    report = crypto.decrypt_report(private_key(vec["key_index"]), bytes(payload))
    check_expected(report, vec["expected"])


# --- finder side --------------------------------------------------------------------------


@pytest.mark.parametrize("vec", **by_id(REPORTS))
def test_encrypt_report_reproduces_vector(vec):
    e = vec["expected"]
    payload = crypto.encrypt_report(
        b64(KEYS[vec["key_index"]]["advertisement_key_b64"]),
        observed_at=datetime.fromtimestamp(e["timestamp_unix"], UTC),
        latitude=e["latitude"],
        longitude=e["longitude"],
        horizontal_accuracy=e["horizontal_accuracy"],
        status=e["status"],
        confidence=e["confidence"],
        layout=vec["layout"],
        ephemeral_private_key=bytes.fromhex(vec["intermediate"]["ephemeral_private_key_hex"]),
    )
    assert payload == b64(vec["payload_b64"])


@pytest.mark.parametrize("layout", [88, 89])
@pytest.mark.parametrize(
    "lat,lon",
    [
        (52.5200066, 13.404954),
        (-33.8688197, 151.2092955),
        (40.7127753, -74.0059728),
        (-22.9068467, -43.1728965),
        (-90.0, -180.0),
        (90.0, 180.0),
        (-1e-7, 1e-7),
    ],
)
def test_encrypt_report_round_trips(layout, lat, lon):
    key, identity = crypto.generate_identity()
    when = datetime(2026, 11, 22, 7, 40, 12, 345678, tzinfo=UTC)
    payload = crypto.encrypt_report(
        identity.advertisement_key,
        observed_at=when,
        latitude=lat,
        longitude=lon,
        horizontal_accuracy=42,
        status=0x20,
        confidence=3,
        layout=layout,
    )
    assert len(payload) == layout
    report = crypto.decrypt_report(key, payload)
    assert report.observed_at == when.replace(microsecond=0)
    assert (report.latitude, report.longitude) == (lat, lon)
    assert (report.horizontal_accuracy, report.status, report.confidence) == (42, 0x20, 3)
    other_key = crypto.generate_private_key()
    with pytest.raises(ReportDecryptionError):
        crypto.decrypt_report(other_key, payload)


@pytest.mark.parametrize(
    "override",
    [
        {"latitude": 90.5},
        {"longitude": -181},
        {"layout": 90},
        {"status": 256},
        {"observed_at": datetime(2026, 1, 1)},
        {"observed_at": datetime(2000, 1, 1, tzinfo=UTC)},
    ],
    ids=["lat", "lon", "layout", "status", "naive", "before_2001"],
)
def test_encrypt_report_bad_input_raises_value_error(override):
    kwargs = {
        "observed_at": datetime(2026, 1, 1, tzinfo=UTC),
        "latitude": 1.0,
        "longitude": 2.0,
        "horizontal_accuracy": 5,
        "status": 0,
        "confidence": 1,
    } | override
    with pytest.raises(ValueError):
        crypto.encrypt_report(b64(KEYS[0]["advertisement_key_b64"]), **kwargs)

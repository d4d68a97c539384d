"""Apple FindMy crypto for custom (OpenHaystack-style) trackers: P-224 keys, the identifiers
derived from them, and location report encryption/decryption. Stdlib + `cryptography` only."""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

APPLE_EPOCH_UNIX = 978307200  # 2001-01-01T00:00:00Z
_CURVE = ec.SECP224R1()
_ECDH = ec.ECDH()
_KDF_COUNTER = b"\x00\x00\x00\x01"  # X9.63 KDF: one SHA-256 block gives the 32 bytes we need
_PLAINTEXT = struct.Struct(">iiBB")  # lat, lon (signed: southern/western hemispheres), acc, status


class ReportDecryptionError(ValueError):
    """A report payload could not be decrypted (bad length, wrong key, damaged or forged)."""


@dataclass(frozen=True, slots=True)
class Identity:
    advertisement_key: bytes  # 28-byte public x coordinate
    hashed_advertisement_key: str  # base64(sha256(adv key)): the id Apple is asked for
    mac_address: str  # "E2:C2:CC:6D:1F:12", most significant byte first


@dataclass(frozen=True, slots=True)
class DecryptedReport:
    observed_at: datetime
    confidence: int
    latitude: float
    longitude: float
    horizontal_accuracy: int
    status: int


def _identity(adv: bytes) -> Identity:
    digest = hashlib.sha256(adv).digest()
    return Identity(adv, base64.b64encode(digest).decode("ascii"), _mac(adv).hex(":").upper())


def _mac(adv: bytes) -> bytes:
    # Top two bits set marks a BLE random static address.
    return bytes((adv[0] | 0xC0,)) + adv[1:6]


def load_private_key(private_key: bytes) -> ec.EllipticCurvePrivateKey:
    if len(private_key) not in (27, 28):  # OpenHaystack drops a leading zero byte
        raise ValueError(f"P-224 private key must be 28 (or 27) bytes, got {len(private_key)}")
    try:
        return ec.derive_private_key(int.from_bytes(private_key, "big"), _CURVE)
    except ValueError as exc:
        raise ValueError("private key is not a valid P-224 scalar (0 or >= order)") from exc


def generate_private_key() -> bytes:
    return generate_identity()[0]


def generate_identity() -> tuple[bytes, Identity]:
    # private_numbers() carries the public point too, so one call gives both halves.
    numbers = ec.generate_private_key(_CURVE).private_numbers()
    adv = numbers.public_numbers.x.to_bytes(28, "big")
    return numbers.private_value.to_bytes(28, "big"), _identity(adv)


def public_identity(private_key: bytes) -> Identity:
    x = load_private_key(private_key).public_key().public_numbers().x
    return _identity(x.to_bytes(28, "big"))


def _check_adv(advertisement_key: bytes) -> None:
    if len(advertisement_key) != 28:
        raise ValueError(f"advertisement key must be 28 bytes, got {len(advertisement_key)}")


def ble_address_bytes(advertisement_key: bytes) -> bytes:
    """The random static address as sent over the air (least significant byte first)."""
    _check_adv(advertisement_key)
    return _mac(advertisement_key)[::-1]


def ble_advertisement(advertisement_key: bytes, status: int = 0, hint: int = 0) -> bytes:
    """The 31-byte advertising data; adv[0:6] travels in the MAC, its top two bits here."""
    _check_adv(advertisement_key)
    a = advertisement_key
    return b"\x1e\xff\x4c\x00\x12\x19" + bytes((status,)) + a[6:] + bytes((a[0] >> 6, hint))


@lru_cache(maxsize=4096)
def _cached_key(private_key: bytes) -> ec.EllipticCurvePrivateKey:
    return load_private_key(private_key)  # derivation costs about as much as one decryption


def decrypt_report(private_key: bytes, payload: bytes) -> DecryptedReport:
    try:
        key = _cached_key(bytes(private_key))  # bytes(): a bytearray is not hashable
    except (ValueError, TypeError) as exc:
        raise ReportDecryptionError(f"bad private key: {exc}") from exc
    return decrypt_report_with_key(key, payload)


def decrypt_report_with_key(key: ec.EllipticCurvePrivateKey, payload: bytes) -> DecryptedReport:
    if len(payload) == 89:  # newer layout: an extra byte after the timestamp
        payload = payload[:4] + payload[5:]
    elif len(payload) != 88:
        raise ReportDecryptionError(f"report payload must be 88 or 89 bytes, got {len(payload)}")
    eph_pub = payload[5:62]
    try:
        shared = key.exchange(_ECDH, ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, eph_pub))
        k = hashlib.sha256(shared + _KDF_COUNTER + eph_pub).digest()
        plaintext = AESGCM(k[:16]).decrypt(k[16:], payload[62:], None)  # 16-byte nonce
    except (InvalidTag, ValueError, TypeError) as exc:
        detail = str(exc) or "wrong key or damaged payload"  # InvalidTag has no message
        raise ReportDecryptionError(f"{type(exc).__name__}: {detail}") from exc
    lat, lon, accuracy, status = _PLAINTEXT.unpack(plaintext)
    # Timestamp and confidence are outside the ciphertext (not authenticated).
    observed_at = datetime.fromtimestamp(int.from_bytes(payload[:4], "big") + APPLE_EPOCH_UNIX, UTC)
    return DecryptedReport(observed_at, payload[4], lat / 1e7, lon / 1e7, accuracy, status)


def encrypt_report(
    advertisement_key: bytes,
    *,
    observed_at: datetime,
    latitude: float,
    longitude: float,
    horizontal_accuracy: int,
    status: int,
    confidence: int,
    layout: int = 88,
    ephemeral_private_key: bytes | None = None,
) -> bytes:
    """Finder side: encrypt a report to a tracker knowing only its advertisement key.
    `ephemeral_private_key` is for reproducing fixed vectors; leave it None otherwise."""
    _check_adv(advertisement_key)
    if layout not in (88, 89):
        raise ValueError(f"layout must be 88 or 89, got {layout}")
    if observed_at.tzinfo is None:
        raise ValueError("observed_at must be timezone-aware")
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError(f"coordinates out of range: {latitude}, {longitude}")
    ts = int(observed_at.timestamp()) - APPLE_EPOCH_UNIX
    if not 0 <= ts < 2**32:
        raise ValueError(f"observed_at {observed_at} is outside the Apple uint32 timestamp range")
    # Only x is broadcast; either y gives the same shared x, so take the even one.
    tracker = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, b"\x02" + advertisement_key)
    if ephemeral_private_key is None:
        eph = ec.generate_private_key(_CURVE)
    else:
        eph = load_private_key(ephemeral_private_key)
    eph_pub = eph.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    k = hashlib.sha256(eph.exchange(_ECDH, tracker) + _KDF_COUNTER + eph_pub).digest()
    try:
        plaintext = _PLAINTEXT.pack(
            round(latitude * 1e7), round(longitude * 1e7), horizontal_accuracy, status
        )
    except struct.error as exc:  # accuracy or status not a byte
        raise ValueError(str(exc)) from exc
    sealed = AESGCM(k[:16]).encrypt(k[16:], plaintext, None)
    extra = b"\x00" if layout == 89 else b""
    return ts.to_bytes(4, "big") + extra + bytes((confidence,)) + eph_pub + sealed

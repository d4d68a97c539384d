"""Report decryption speed: findmy.crypto.decrypt_report against a bare `cryptography` loop.

Run: .venv/bin/python bench/decrypt.py [--reports N] [--rounds R]
The last line is `RESULT decrypt ratio=<project rate / bare rate>`.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import struct
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 0.9  # make bench: the ratio this bench must reach

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from findmy.crypto import (  # noqa: E402
    decrypt_report,
    encrypt_report,
    generate_identity,
    load_private_key,
)


def build_payloads(n: int, n_keys: int, seed: int) -> list[tuple[bytes, bytes]]:
    """(private key, payload) pairs, encrypted the way a finder would, 88-byte layout."""
    rng = random.Random(seed)  # coordinates only; keys come from the CSPRNG
    keys = [generate_identity() for _ in range(n_keys)]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    pairs = []
    for i in range(n):
        private_key, identity = keys[i % n_keys]
        payload = encrypt_report(
            identity.advertisement_key,
            observed_at=start + timedelta(seconds=rng.randrange(7 * 86400)),
            latitude=rng.uniform(-90, 90),
            longitude=rng.uniform(-180, 180),
            horizontal_accuracy=rng.randrange(256),
            status=rng.randrange(256),
            confidence=rng.randrange(1, 4),
        )
        pairs.append((private_key, payload))
    return pairs


def run_project(pairs: list[tuple[bytes, bytes]]) -> list:
    return [decrypt_report(private_key, payload) for private_key, payload in pairs]


def run_bare(pairs: list[tuple[bytes, bytes]], key_objs: dict) -> list:
    # The same math inline, keys loaded once up front (as the project caches them).
    curve, ecdh = ec.SECP224R1(), ec.ECDH()
    from_point = ec.EllipticCurvePublicKey.from_encoded_point
    out = []
    for private_key, payload in pairs:
        eph_pub = payload[5:62]
        shared = key_objs[private_key].exchange(ecdh, from_point(curve, eph_pub))
        k = hashlib.sha256(shared + b"\x00\x00\x00\x01" + eph_pub).digest()
        plaintext = AESGCM(k[:16]).decrypt(k[16:], payload[62:], None)
        out.append(struct.unpack(">iiBB", plaintext))
    return out


def rate(fn, *args) -> tuple[float, list]:
    t0 = time.perf_counter()
    result = fn(*args)
    return len(args[0]) / (time.perf_counter() - t0), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=4000)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    pairs = build_payloads(args.reports, args.keys, seed=1)
    key_objs = {pk: load_private_key(pk) for pk, _ in pairs}

    # Both sides must agree before their speed means anything.
    project, bare = run_project(pairs), run_bare(pairs, key_objs)
    for rep, (lat, lon, acc, status) in zip(project, bare, strict=True):
        assert (rep.latitude, rep.longitude) == (lat / 1e7, lon / 1e7)
        assert (rep.horizontal_accuracy, rep.status) == (acc, status)

    best_project = best_bare = 0.0
    for i in range(args.rounds):
        # Alternate the order so neither side always runs on a warmer CPU.
        if i % 2:
            r_bare, _ = rate(run_bare, pairs, key_objs)
            r_project, _ = rate(run_project, pairs)
        else:
            r_project, _ = rate(run_project, pairs)
            r_bare, _ = rate(run_bare, pairs, key_objs)
        best_project, best_bare = max(best_project, r_project), max(best_bare, r_bare)
        print(f"round {i + 1}: project {r_project:,.0f}/s  bare {r_bare:,.0f}/s")

    print(f"{len(pairs)} reports, {args.keys} keys, best of {args.rounds} rounds")
    print(f"project decrypt_report: {best_project:,.0f} reports/s")
    print(f"bare cryptography loop: {best_bare:,.0f} reports/s")
    print(f"RESULT decrypt ratio={best_project / best_bare:.3f}")


if __name__ == "__main__":
    main()

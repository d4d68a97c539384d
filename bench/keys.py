"""Key generation speed: fleet.services.keys_generate (draw, encrypt, store) against a bare
`cryptography` key-generation loop.

Run: .venv/bin/python bench/keys.py [--keys N] [--rounds R]
The service writes into a throwaway database (bench_fleet_keys, created and dropped here).
The last line is `RESULT keys ratio=<service rate / bare rate>`: the median over rounds of
the ratio within a round (both sides measured back to back, so a busy machine affects both).
The service needs a second core for PostgreSQL; the bare loop does not.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

TARGET = 0.5  # make bench: the ratio this bench must reach

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.test")
os.environ.setdefault("TEST_DATABASE_NAME", "bench_fleet_keys")

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from django.db import connection  # noqa: E402

from fleet import services  # noqa: E402
from tracking.models import Tracker  # noqa: E402


def run_bare(n: int) -> list[tuple[bytes, bytes]]:
    # The physical limit: a P-224 key pair and its two 28-byte halves, nothing else.
    curve = ec.SECP224R1()
    generate = ec.generate_private_key
    out = []
    for _ in range(n):
        numbers = generate(curve).private_numbers()
        out.append(
            (
                numbers.private_value.to_bytes(28, "big"),
                numbers.public_numbers.x.to_bytes(28, "big"),
            )
        )
    return out


def run_service(n: int, name: str) -> None:
    services.keys_generate(batch_name=name, count=n)


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    creation = connection.creation
    old_name = connection.settings_dict["NAME"]
    creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        best_service = best_bare = 0.0
        ratios = []
        for i in range(args.rounds):
            name = f"bench-{i}"
            # Alternate the order so neither side always runs on a warmer CPU.
            if i % 2:
                t_bare = timed(run_bare, args.keys)
                t_service = timed(run_service, args.keys, name)
            else:
                t_service = timed(run_service, args.keys, name)
                t_bare = timed(run_bare, args.keys)
            stored = Tracker.objects.filter(key_batch__name=name).count()
            assert stored == args.keys, (stored, args.keys)
            r_service, r_bare = args.keys / t_service, args.keys / t_bare
            best_service, best_bare = max(best_service, r_service), max(best_bare, r_bare)
            ratios.append(r_service / r_bare)
            print(
                f"round {i + 1}: service {r_service:,.0f} keys/s  bare {r_bare:,.0f} keys/s"
                f"  ratio {r_service / r_bare:.3f}"
            )
        total = Tracker.objects.count()
    finally:
        creation.destroy_test_db(old_name, verbosity=0)

    print(f"{args.keys:,} keys per batch, {total:,} stored, best of {args.rounds} rounds")
    print(f"service keys_generate: {best_service:,.0f} keys/s (generate, encrypt, COPY, commit)")
    print(f"bare cryptography loop: {best_bare:,.0f} keys/s")
    print(
        f"best-of ratio {best_service / best_bare:.3f}; per round: "
        + ", ".join(f"{r:.3f}" for r in ratios)
    )
    print(f"RESULT keys ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()

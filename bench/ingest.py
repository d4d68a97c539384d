"""Report ingestion end to end (decrypt, deduplicate, store in PostGIS) against the bare decrypt
loop, side by side on the same payloads.

Run: DATABASE_URL=postgis://postgres@127.0.0.1:5432/trackersite .venv/bin/python bench/ingest.py
     [--reports 100000] [--trackers 1000] [--rounds 5]
It creates throwaway trackers in a throwaway production run and removes them afterwards.
Ingestion goes in fetch-sized batches (FINDMY_IDS_PER_REQUEST trackers per batch, as a fetch
would hand them over), each its own transaction; keys are loaded from their encrypted form.
The last line is `RESULT ingest ratio=<median over rounds of end-to-end rate / bare rate>`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import statistics
import struct
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET = 0.7  # make bench: the ratio this bench must reach

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackersite.settings.dev")

import django  # noqa: E402

django.setup()

from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from findmy import crypto, ingest  # noqa: E402
from tracking import encryption  # noqa: E402
from tracking.models import Brand, Client, LocationReport, ProductionRun, Tracker  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)


def payloads_for(args: tuple[bytes, int, int]) -> list[bytes]:
    """A tracker's reports, encrypted the way finders do (runs in a worker process)."""
    advertisement_key, count, seed = args
    rng = random.Random(seed)
    return [
        crypto.encrypt_report(
            advertisement_key,
            observed_at=START + timedelta(seconds=rng.randrange(7 * 86400)),
            latitude=rng.uniform(-60, 70),
            longitude=rng.uniform(-180, 180),
            horizontal_accuracy=rng.randrange(256),
            status=rng.randrange(256),
            confidence=rng.randrange(1, 4),
            layout=88 if rng.random() < 0.5 else 89,
        )
        for _ in range(count)
    ]


def make_trackers(n: int, tag: str) -> tuple[ProductionRun, list[Tracker], list[bytes]]:
    client = Client.objects.create(name=f"bench {tag}")
    brand = Brand.objects.create(client=client, name="bench")
    run = ProductionRun.objects.create(
        brand=brand, name=f"bench {tag}", starts_at=START, ends_at=START + timedelta(days=30)
    )
    trackers, private_keys = [], []
    for _ in range(n):
        private_key, identity = crypto.generate_identity()
        private_keys.append(private_key)
        trackers.append(
            Tracker(
                mac_address=identity.mac_address,
                advertisement_key=identity.advertisement_key,
                hashed_advertisement_key=identity.hashed_advertisement_key,
                private_key_encrypted=encryption.encrypt(private_key),
                lifecycle_state=Tracker.Lifecycle.ACTIVE,
                client=client,
                production_run=run,
                label=f"bench {tag}",
            )
        )
    return run, Tracker.objects.bulk_create(trackers), private_keys


def _delete(cursor, table: str, column: str, ids: list[int]) -> None:
    """Delete rows and, first, the rows of any table that points at them (other apps' status
    history, fetch state...): these throwaway rows may have been picked up by running workers."""
    cursor.execute(
        "SELECT c.conrelid::regclass::text, a.attname FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "WHERE c.contype = 'f' AND c.confrelid = %s::regclass AND c.conrelid <> c.confrelid",
        [table],
    )
    for ref_table, ref_column in cursor.fetchall():
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
            "ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] "
            "WHERE i.indrelid = %s::regclass AND i.indisprimary",
            [ref_table],
        )
        pk = cursor.fetchone()[0]
        cursor.execute(f"SELECT {pk} FROM {ref_table} WHERE {ref_column} = ANY(%s)", [ids])
        ref_ids = [row[0] for row in cursor.fetchall()]
        if ref_ids:
            _delete(cursor, ref_table, pk, ref_ids)
    cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [ids])


def cleanup(run: ProductionRun) -> None:
    """Raw SQL, so that no other app's models are needed for these throwaway rows."""
    client_id, brand_id = run.brand.client_id, run.brand_id
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM tracking_tracker WHERE production_run_id = %s", [run.pk])
        tracker_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        _delete(cursor, "tracking_tracker", "id", tracker_ids)
        _delete(cursor, "tracking_productionrun", "id", [run.pk])
        _delete(cursor, "tracking_brand", "id", [brand_id])
        _delete(cursor, "tracking_client", "id", [client_id])


def vacuum() -> None:
    """Drop the dead rows of earlier rounds: re-inserting the same payload hashes over dead
    index entries is slower than any real ingest would be."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM tracking_locationreport")


def run_bare(work: list[tuple[bytes, list[bytes]]], key_objs: dict) -> int:
    """The physical limit: the same math inline, keys loaded up front, nothing stored."""
    curve, ecdh = ec.SECP224R1(), ec.ECDH()
    from_point = ec.EllipticCurvePublicKey.from_encoded_point
    n = 0
    for private_key, payloads in work:
        key = key_objs[private_key]
        for payload in payloads:
            if len(payload) == 89:
                payload = payload[:4] + payload[5:]
            eph_pub = payload[5:62]
            shared = key.exchange(ecdh, from_point(curve, eph_pub))
            k = hashlib.sha256(shared + b"\x00\x00\x00\x01" + eph_pub).digest()
            struct.unpack(">iiBB", AESGCM(k[:16]).decrypt(k[16:], payload[62:], None))
            n += 1
    return n


def run_end_to_end(
    trackers, tracker_payloads, run, batch_trackers: int, min_chunk_rows: int
) -> int:
    ingest._key_from_token.cache_clear()  # load keys as a fresh worker would
    new = 0
    for i in range(0, len(trackers), batch_trackers):
        batches = [
            (
                ingest.IngestTarget(
                    tracker.pk,
                    ingest.load_tracker_key(tracker.private_key_encrypted),
                    run.starts_at,
                    run.ends_at,
                ),
                payloads,
            )
            for tracker, payloads in zip(
                trackers[i : i + batch_trackers],
                tracker_payloads[i : i + batch_trackers],
                strict=True,
            )
        ]
        new += ingest.ingest_payloads(batches=batches, min_chunk_rows=min_chunk_rows).new
    return new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--trackers", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-trackers", type=int, default=settings.FINDMY_IDS_PER_REQUEST)
    parser.add_argument("--min-chunk-rows", type=int, default=ingest.MIN_CHUNK_ROWS)
    args = parser.parse_args()

    per_tracker = args.reports // args.trackers
    tag = uuid.uuid4().hex[:8]
    db = connection.settings_dict["NAME"]
    print(f"database {db}: {args.trackers} trackers x {per_tracker} reports, tag {tag}")
    run, trackers, private_keys = make_trackers(args.trackers, tag)
    try:
        t0 = time.perf_counter()
        with ProcessPoolExecutor() as pool:
            tracker_payloads = list(
                pool.map(
                    payloads_for,
                    [(bytes(t.advertisement_key), per_tracker, i) for i, t in enumerate(trackers)],
                    chunksize=16,
                )
            )
        total = sum(len(p) for p in tracker_payloads)
        print(f"generated {total:,} payloads in {time.perf_counter() - t0:.1f}s")
        key_objs = {pk: crypto.load_private_key(pk) for pk in private_keys}
        work = list(zip(private_keys, tracker_payloads, strict=True))

        best_bare = best_e2e = 0.0
        ratios = []
        for i in range(args.rounds):
            LocationReport.objects.filter(tracker__production_run=run)._raw_delete(connection.alias)
            vacuum()  # each round inserts into a table as a fresh one would find it
            Tracker.objects.filter(production_run=run).update(last_report_at=None, last_point=None)
            order = ("bare", "e2e") if i % 2 == 0 else ("e2e", "bare")
            rates = {}
            for side in order:
                t = time.perf_counter()
                if side == "bare":
                    n = run_bare(work, key_objs)
                else:
                    n = run_end_to_end(
                        trackers, tracker_payloads, run, args.batch_trackers, args.min_chunk_rows
                    )
                    assert n == total, f"stored {n} of {total}"
                rates[side] = total / (time.perf_counter() - t)
            best_bare, best_e2e = max(best_bare, rates["bare"]), max(best_e2e, rates["e2e"])
            ratios.append(rates["e2e"] / rates["bare"])
            print(f"round {i + 1}: end-to-end {rates['e2e']:,.0f}/s", end="  ")
            print(f"bare decrypt {rates['bare']:,.0f}/s")
        stored = LocationReport.objects.filter(tracker__production_run=run).count()
        assert stored == total, f"{stored} stored, {total} expected"
        # Everything again: all duplicates, nothing stored twice.
        again = run_end_to_end(
            trackers, tracker_payloads, run, args.batch_trackers, args.min_chunk_rows
        )
        assert (
            again == 0
            and LocationReport.objects.filter(tracker__production_run=run).count() == total
        )
        print(f"{total:,} reports, batches of {args.batch_trackers} trackers")
        print(f"end to end (decrypt, deduplicate, store): {best_e2e:,.0f} reports/s")
        print(f"bare decrypt loop:                        {best_bare:,.0f} reports/s")
        print(f"best of each: ratio {best_e2e / best_bare:.3f}")
        # The two sides of one round run back to back, so their ratio shares the machine's
        # load at that moment; the median of those is steadier than a ratio of two bests.
        print(f"per-round ratios: {' '.join(f'{r:.3f}' for r in ratios)}")
        print(f"RESULT ingest ratio={statistics.median(ratios):.3f}")
    finally:
        cleanup(run)
        vacuum()


if __name__ == "__main__":
    main()

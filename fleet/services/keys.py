"""Key batches: generation (fresh key pairs, private keys encrypted) and the manufacturer's
export file (public material only)."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg
from django.db import IntegrityError, connection, transaction
from psycopg.copy import QueuedLibpqWriter

from findmy import crypto
from tracking import encryption
from tracking.models import KeyBatch, Tracker

from ..exceptions import LifecycleError
from .lifecycle import Lifecycle, actor, audit

MAX_KEYS_PER_BATCH = 1_000_000
# Keys drawn per COPY: large enough to amortise a round trip, small enough that the last
# chunk (the part of the COPY that does not overlap with drawing) is short.
_CHUNK = 5_000
_MAX_CHUNKS = 40  # one savepoint (subtransaction) per chunk; PostgreSQL caches 64


@dataclass(frozen=True)
class ExportFormat:
    content_type: str
    extension: str


EXPORT_FORMATS = {
    "csv": ExportFormat("text/csv", "csv"),
    "json": ExportFormat("application/json", "json"),
    "bin": ExportFormat("application/octet-stream", "bin"),
}
_EXPORT_COLUMNS = (
    "mac_address",
    "advertisement_key_base64",
    "advertisement_key_hex",
    "hashed_advertisement_key",
)


@transaction.atomic
def keys_generate(
    *,
    batch_name: str,
    count: int,
    user=None,
    progress: Callable[[int], object] | None = None,
) -> KeyBatch:
    """A new key batch of `count` fresh key pairs, written in one transaction.

    A MAC that collides with another key of the batch or with a tracker already stored is
    drawn again. `progress(n)` is told about every n keys drawn (tqdm's `update` fits).
    """
    name = batch_name.strip()
    errors = []
    if not name:
        errors.append("a key batch needs a name")
    elif len(name) > KeyBatch._meta.get_field("name").max_length:
        errors.append(f'key batch name "{name}" is too long')
    elif KeyBatch.objects.filter(name=name).exists():
        errors.append(f'key batch "{name}" already exists')
    if not 1 <= count <= MAX_KEYS_PER_BATCH:
        errors.append(f"count must be between 1 and {MAX_KEYS_PER_BATCH:,}, not {count}")
    if errors:
        raise LifecycleError(errors)

    try:
        with transaction.atomic(), connection.wrap_database_errors:
            batch = KeyBatch.objects.create(name=name, created_by=actor(user))
            redrawn = _store_new_keys(batch, count, progress)
    except IntegrityError as exc:
        # The last guard: a concurrent batch took a MAC or the name between check and write.
        raise LifecycleError(f'key batch "{name}" could not be stored: {exc}') from exc
    audit(action="keys.generate", user=user, target=name, count=count, redrawn=redrawn)
    return batch


def _store_new_keys(batch: KeyBatch, count: int, progress: Callable[[int], object] | None) -> int:
    """Draw `count` key pairs with unused MACs and COPY them in; returns how many were drawn
    again because of a MAC collision.

    A pipeline over chunks: while the server writes and indexes chunk k (its rows sent by
    psycopg's queued writer thread), this thread draws chunk k+1. MACs are unique within
    the batch by a set. Against stored trackers the unique index on mac_address is the
    check: it looks every new MAC up anyway, so a query before each COPY would do that work
    twice. Each chunk has a savepoint; a chunk the index refuses is rolled back, its taken
    MACs found with one query on the chunk's MACs, and the rest written again; the keys
    dropped are drawn again in a later chunk.
    """
    fernet = encryption.fernet()  # one instance: the key is parsed once, not per tracker
    chunk_size = max(_CHUNK, -(-count // _MAX_CHUNKS))
    writer = _ChunkWriter(batch)
    seen: set[str] = set()
    planned = redrawn = 0
    with writer:
        while planned < count:
            chunk, collided = _draw_keys(min(chunk_size, count - planned), seen, fernet)
            dropped = writer.finish()  # waits for the server to take the previous chunk
            writer.start(chunk)
            planned += len(chunk) - dropped
            redrawn += collided + dropped
            if progress is not None:
                progress(len(chunk) - dropped)
        dropped = writer.finish()
        while dropped:  # the last chunk lost keys: draw and write their replacements
            redrawn += dropped
            if progress is not None:
                progress(-dropped)
            chunk, collided = _draw_keys(dropped, seen, fernet)
            redrawn += collided
            writer.start(chunk)
            dropped = writer.finish()
            if progress is not None:
                progress(len(chunk))
    return redrawn


def _draw_keys(count: int, seen: set[str], fernet) -> tuple[list[tuple], int]:
    """`count` fresh trackers' key columns (MAC, advertisement key, hashed key, encrypted
    private key), their MACs not in `seen` (and added to it). Returns the rows and how many
    key pairs were drawn again because their MAC was already in `seen`."""
    generate = crypto.generate_identity
    encrypt = fernet.encrypt
    rows: list[tuple] = []
    redrawn = 0
    while len(rows) < count:
        private_key, identity = generate()
        mac = identity.mac_address
        if mac in seen:
            redrawn += 1
            continue
        seen.add(mac)
        rows.append(
            (mac, identity.advertisement_key, identity.hashed_advertisement_key,
             encrypt(private_key))
        )  # fmt: skip
    return rows, redrawn


class _ChunkWriter:
    """Binary COPY of tracker chunks, one savepoint each, the rows queued to a writer thread
    so that `start` returns while the server is still working."""

    def __init__(self, batch: KeyBatch):
        self.sql, self.types, self.constants = _tracker_copy_statement(batch)
        self.rows: list[tuple] | None = None
        self.copy: ExitStack | None = None

    def __enter__(self):
        self.cursor = connection.cursor()
        self.raw = self.cursor.cursor
        return self

    def __exit__(self, *exc_info):
        if self.copy is not None:
            self.copy.__exit__(*exc_info)  # with an exception: abandons the COPY
        self.cursor.close()

    def start(self, rows: list[tuple]) -> None:
        self.rows = rows
        self.raw.execute("SAVEPOINT fleet_keys_chunk")
        self.copy = ExitStack()
        copy = self.copy.enter_context(self.raw.copy(self.sql, writer=QueuedLibpqWriter(self.raw)))
        copy.set_types(self.types)
        constants = self.constants
        for row in rows:
            copy.write_row((*row, *constants))

    def finish(self) -> int:
        """Wait for the chunk in flight; returns how many of its keys had a taken MAC."""
        if self.copy is None:
            return 0
        try:
            self.copy.close()
        except psycopg.errors.UniqueViolation:
            self.copy = None
            self.raw.execute("ROLLBACK TO SAVEPOINT fleet_keys_chunk")
            taken = _stored_macs([row[0] for row in self.rows])
            if not taken:
                raise  # not a MAC: the last guard has spoken
            self.start([row for row in self.rows if row[0] not in taken])
            return len(taken) + self.finish()
        self.copy = None
        self.raw.execute("RELEASE SAVEPOINT fleet_keys_chunk")
        return 0


def _stored_macs(macs: list[str]) -> set[str]:
    """The MACs of `macs` already taken by a stored tracker: one query, the list sent as one
    array parameter (server-side binding; Django's client-side cursor would spell out every
    value in the SQL text)."""
    table = connection.ops.quote_name(Tracker._meta.db_table)
    column = connection.ops.quote_name(Tracker._meta.get_field("mac_address").column)
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} = ANY(%s)", [macs])
        return {row[0] for row in cursor.fetchall()}


def _tracker_copy_statement(batch: KeyBatch) -> tuple[str, list[str], tuple]:
    """Binary COPY for new trackers: the key columns first, then every other column that
    has a non-NULL model default, with that default (taken from the model, so a new
    Tracker field needs no change here). Returns (sql, column types, constant values)."""
    keys = (
        "mac_address",
        "advertisement_key",
        "hashed_advertisement_key",
        "private_key_encrypted",
    )
    template = Tracker(key_batch=batch, lifecycle_state=Lifecycle.GENERATED)
    fields = [Tracker._meta.get_field(name) for name in keys]
    constants = []
    for field in Tracker._meta.concrete_fields:
        if field.primary_key or field.attname in keys:
            continue
        value = field.get_db_prep_save(field.pre_save(template, add=True), connection)
        if value is not None:  # NULL is what the column gets when left out
            fields.append(field)
            constants.append(value)
    quote = connection.ops.quote_name
    sql = "COPY {} ({}) FROM STDIN (FORMAT BINARY)".format(
        quote(Tracker._meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    # "varchar(17)" -> "varchar": psycopg's binary dumpers are chosen by base type name.
    types = [f.db_type(connection).split("(")[0] for f in fields]
    return sql, types, tuple(constants)


def _export_rows(batch: KeyBatch) -> list[tuple[str, bytes, str]]:
    return [
        (mac, bytes(advertisement_key), hashed)
        for mac, advertisement_key, hashed in batch.trackers.exclude(
            lifecycle_state=Lifecycle.RETIRED
        )
        .order_by("mac_address")
        .values_list("mac_address", "advertisement_key", "hashed_advertisement_key")
    ]


def render_export(batch_name: str, rows: list[tuple[str, bytes, str]], fmt: str) -> bytes:
    """The manufacturer's file. Public material only: MAC, advertisement key, hashed key."""
    if fmt == "bin":
        # OpenHaystack-style flashing: the 28-byte advertisement keys back to back.
        return b"".join(advertisement_key for _, advertisement_key, _ in rows)
    devices = [
        (mac, base64.b64encode(adv).decode("ascii"), adv.hex(), hashed) for mac, adv, hashed in rows
    ]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_EXPORT_COLUMNS)
        writer.writerows(devices)
        return out.getvalue().encode("utf-8")
    if fmt == "json":
        document = {
            "batch": batch_name,
            "count": len(devices),
            "devices": [dict(zip(_EXPORT_COLUMNS, device, strict=True)) for device in devices],
        }
        return json.dumps(document, indent=1).encode("utf-8")
    raise LifecycleError(f'unknown export format "{fmt}" (use {", ".join(EXPORT_FORMATS)})')


@transaction.atomic
def batch_export(*, batch: KeyBatch, fmt: str, user=None) -> bytes:
    """The batch's manufacturer file. Its GENERATED trackers and the batch move to EXPORTED;
    exporting again (a lost file) gives the same content and another audit row."""
    if fmt not in EXPORT_FORMATS:
        raise LifecycleError(f'unknown export format "{fmt}" (use {", ".join(EXPORT_FORMATS)})')
    batch = KeyBatch.objects.select_for_update().get(pk=batch.pk)
    rows = _export_rows(batch)
    if not rows:
        raise LifecycleError(f'key batch "{batch.name}" has no trackers to export')
    content = render_export(batch.name, rows, fmt)
    batch.trackers.transition(Lifecycle.EXPORTED)  # GENERATED ones; the rest are further on
    if batch.state != KeyBatch.State.EXPORTED:
        batch.state = KeyBatch.State.EXPORTED
        batch.save(update_fields=["state"])
    audit(
        action="keys.export",
        user=user,
        target=batch.name,
        format=fmt,
        count=len(rows),
        sha256=hashlib.sha256(content).hexdigest(),
        bytes=len(content),
    )
    return content

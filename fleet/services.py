"""Every write of the tracker lifecycle, from a fresh key pair to an active tracker.

GENERATED -> EXPORTED -> IN_STOCK -> ALLOCATED -> ACTIVE -> RETIRED; the legal moves are
Tracker.TRANSITIONS and only `_move` changes lifecycle_state. Each function is keyword-only
and atomic, checks all of its input first and raises LifecycleError naming every problem
(line and value), and writes its audit row in the same transaction. A refused call changes
nothing. Private keys exist in clear only inside keys_generate, between the CSPRNG and Fernet.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.copy import QueuedLibpqWriter

from findmy import crypto
from tracking import encryption
from tracking.models import AuditEvent, Client, KeyBatch, ProductionRun, Tracker

from .exceptions import LifecycleError
from .models import Allocation, CustomerOrder
from .parsing import MacLine, parse_mac_list

__all__ = [
    "EXPORT_FORMATS",
    "LifecycleError",
    "batch_export",
    "devices_receive",
    "keys_generate",
    "order_allocate",
    "order_cancel",
    "order_create",
    "tracker_retire",
    "trackers_import",
]

MAX_KEYS_PER_BATCH = 1_000_000
# Keys drawn per COPY: large enough to amortise a round trip, small enough that the last
# chunk (the part of the COPY that does not overlap with drawing) is short.
_CHUNK = 5_000
_MAX_CHUNKS = 40  # one savepoint (subtransaction) per chunk; PostgreSQL caches 64

Lifecycle = Tracker.Lifecycle


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


def _actor(user):
    return user if user is not None and user.is_authenticated else None


def _audit(
    *, action: str, user, target: str = "", client: Client | None = None, **details
) -> AuditEvent:
    return AuditEvent.objects.create(
        action=action, actor=_actor(user), client=client, target=target[:200], details=details
    )


def _move(tracker_ids: list[int], target: str, **changes) -> None:
    """The one lifecycle mover: a single conditional UPDATE, all rows or none."""
    moved = Tracker.objects.filter(pk__in=tracker_ids).transition(target, **changes)
    if moved != len(tracker_ids):
        # Validation ran under row locks, so this is a bug or a write that bypassed them.
        raise LifecycleError(
            f"{len(tracker_ids) - moved} of {len(tracker_ids)} trackers could not move to "
            f"{target}: their state changed meanwhile; nothing was changed"
        )


def _lock_trackers(macs: Iterable[str]) -> dict[str, Tracker]:
    rows = (
        Tracker.objects.select_for_update(of=("self",))
        .filter(mac_address__in=list(macs))
        .select_related("client", "production_run")
        .only(
            "id",
            "mac_address",
            "lifecycle_state",
            "client",
            "client__name",
            "production_run",
            "production_run__name",
            "production_run__starts_at",
            "production_run__ends_at",
        )
    )
    return {t.mac_address: t for t in rows}


def _refuse(line: MacLine, reason: str) -> str:
    if line.line:
        return line.refuse(reason)
    return f'tracker "{line.mac}" {reason}'


# --- Key batches ---------------------------------------------------------------------------


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
            batch = KeyBatch.objects.create(name=name, created_by=_actor(user))
            redrawn = _store_new_keys(batch, count, progress)
    except IntegrityError as exc:
        # The last guard: a concurrent batch took a MAC or the name between check and write.
        raise LifecycleError(f'key batch "{name}" could not be stored: {exc}') from exc
    _audit(action="keys.generate", user=user, target=name, count=count, redrawn=redrawn)
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
    generate = crypto.generate_identity
    chunk_size = max(_CHUNK, -(-count // _MAX_CHUNKS))
    writer = _ChunkWriter(batch)
    seen: set[str] = set()
    planned = redrawn = 0
    with writer:
        while planned < count:
            chunk: list[tuple] = []
            target = min(chunk_size, count - planned)
            while len(chunk) < target:
                private_key, identity = generate()
                mac = identity.mac_address
                if mac in seen:
                    redrawn += 1
                    continue
                seen.add(mac)
                chunk.append(
                    (
                        mac,
                        identity.advertisement_key,
                        identity.hashed_advertisement_key,
                        fernet.encrypt(private_key),
                    )
                )
            dropped = writer.finish()  # waits for the server to take the previous chunk
            writer.start(chunk)
            planned += len(chunk) - dropped
            redrawn += dropped
            if progress is not None:
                progress(len(chunk) - dropped)
        dropped = writer.finish()
        while dropped:  # the last chunk lost keys: draw and write their replacements
            redrawn += dropped
            if progress is not None:
                progress(-dropped)
            chunk = []
            while len(chunk) < dropped:
                private_key, identity = generate()
                if identity.mac_address not in seen:
                    seen.add(identity.mac_address)
                    chunk.append(
                        (
                            identity.mac_address,
                            identity.advertisement_key,
                            identity.hashed_advertisement_key,
                            fernet.encrypt(private_key),
                        )
                    )
            writer.start(chunk)
            dropped = writer.finish()
            if progress is not None:
                progress(len(chunk))
    return redrawn


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
    _audit(
        action="keys.export",
        user=user,
        target=batch.name,
        format=fmt,
        count=len(rows),
        sha256=hashlib.sha256(content).hexdigest(),
        bytes=len(content),
    )
    return content


# --- Receipt -------------------------------------------------------------------------------


@transaction.atomic
def devices_receive(*, macs_text: bytes | str, user=None) -> int:
    """Devices back from the manufacturer: their trackers move EXPORTED -> IN_STOCK."""
    lines = parse_mac_list(macs_text)
    trackers = _lock_trackers(line.mac for line in lines)
    errors = []
    for line in lines:
        tracker = trackers.get(line.mac)
        if tracker is None:
            errors.append(line.refuse("is not a known tracker"))
        elif tracker.lifecycle_state == Lifecycle.IN_STOCK:
            errors.append(line.refuse("is already in stock"))
        elif tracker.lifecycle_state == Lifecycle.GENERATED:
            errors.append(line.refuse("has not been exported to the manufacturer yet"))
        elif tracker.lifecycle_state != Lifecycle.EXPORTED:
            errors.append(line.refuse(f"is not awaiting receipt (state {tracker.lifecycle_state})"))
    if errors:
        raise LifecycleError(errors)
    _move([trackers[line.mac].pk for line in lines], Lifecycle.IN_STOCK)
    _audit(
        action="devices.receive",
        user=user,
        target=f"{len(lines)} devices",
        count=len(lines),
        macs=[line.mac for line in lines],
    )
    return len(lines)


# --- Orders and allocation -----------------------------------------------------------------


@transaction.atomic
def order_create(*, client: Client, reference: str, quantity: int, user=None) -> CustomerOrder:
    reference = reference.strip()
    errors = []
    if not reference:
        errors.append("an order needs a reference")
    elif CustomerOrder.objects.filter(reference=reference).exists():
        errors.append(f'order "{reference}" already exists')
    if quantity < 1:
        errors.append(f"an order needs at least one tracker, not {quantity}")
    if errors:
        raise LifecycleError(errors)
    order = CustomerOrder.objects.create(
        client=client, reference=reference, quantity=quantity, created_by=_actor(user)
    )
    _audit(action="order.create", user=user, target=reference, client=client, quantity=quantity)
    return order


def _lock_order(order: CustomerOrder) -> CustomerOrder:
    order = CustomerOrder.objects.select_for_update().select_related("client").get(pk=order.pk)
    if order.status == CustomerOrder.Status.CANCELLED:
        raise LifecycleError(f'order "{order.reference}" is cancelled')
    return order


def _refresh_order_status(order: CustomerOrder) -> None:
    allocated = order.allocations.current().count()
    status = (
        CustomerOrder.Status.ALLOCATED if allocated >= order.quantity else CustomerOrder.Status.OPEN
    )
    if order.status != status:
        order.status = status
        order.save(update_fields=["status"])


@transaction.atomic
def order_allocate(
    *,
    order: CustomerOrder,
    macs_text: bytes | str | None = None,
    count: int | None = None,
    user=None,
) -> int:
    """Allocate in-stock trackers to the order: the MACs listed, or `count` from stock.
    All or nothing; the trackers now belong to the order's client."""
    if (macs_text is None) == (count is None):
        raise LifecycleError("give either a list of MAC addresses or a count, not both")
    order = _lock_order(order)
    allocated = order.allocations.current().count()
    room = order.quantity - allocated
    if macs_text is not None:
        lines = parse_mac_list(macs_text)
        trackers = _lock_trackers(line.mac for line in lines)
        errors = _allocation_errors(order, lines, trackers, allocated, room)
        if errors:
            raise LifecycleError(errors)
        chosen = [trackers[line.mac] for line in lines]
        mode = "list"
    else:
        if not 1 <= count <= room:
            raise LifecycleError(
                f'order "{order.reference}" has room for {room} more trackers '
                f"(quantity {order.quantity}, {allocated} allocated), not {count}"
            )
        chosen = list(
            Tracker.objects.select_for_update(skip_locked=True)
            .filter(lifecycle_state=Lifecycle.IN_STOCK)
            .order_by("id")
            .only("id", "mac_address")[:count]
        )
        if len(chosen) < count:
            raise LifecycleError(f"only {len(chosen)} trackers are in stock, {count} needed")
        mode = "stock"

    _move([t.pk for t in chosen], Lifecycle.ALLOCATED, client=order.client)
    now = timezone.now()
    Allocation.objects.bulk_create(
        [
            Allocation(order=order, tracker=t, allocated_at=now, allocated_by=_actor(user))
            for t in chosen
        ]
    )
    _refresh_order_status(order)
    _audit(
        action="order.allocate",
        user=user,
        target=order.reference,
        client=order.client,
        mode=mode,
        count=len(chosen),
        macs=[t.mac_address for t in chosen],
    )
    return len(chosen)


def _allocation_errors(
    order: CustomerOrder,
    lines: list[MacLine],
    trackers: dict[str, Tracker],
    allocated: int,
    room: int,
) -> list[str]:
    errors = []
    current = {
        a.tracker_id: a.order
        for a in Allocation.objects.current()
        .filter(tracker__in=[t.pk for t in trackers.values()])
        .select_related("order")
    }
    for line in lines:
        tracker = trackers.get(line.mac)
        if tracker is None:
            errors.append(line.refuse("is not a known tracker"))
        elif tracker.lifecycle_state == Lifecycle.ALLOCATED:
            other = current.get(tracker.pk)
            where = f'order "{other.reference}"' if other else f"client {tracker.client}"
            errors.append(line.refuse(f"is already allocated ({where})"))
        elif tracker.lifecycle_state != Lifecycle.IN_STOCK:
            errors.append(line.refuse(f"is not in stock (state {tracker.lifecycle_state})"))
    if len(lines) > room:
        errors.append(
            lines[room].refuse(
                f'is more than order "{order.reference}" takes: quantity {order.quantity}, '
                f"{allocated} already allocated, {len(lines)} in the input"
            )
        )
    return errors


@transaction.atomic
def order_cancel(*, order: CustomerOrder, user=None) -> int:
    """Cancel the order; its allocated trackers go back to stock, without a client."""
    order = _lock_order(order)
    allocations = list(
        order.allocations.current().select_related("tracker__production_run").order_by("id")
    )
    errors = [
        f'tracker "{a.tracker.mac_address}" is {a.tracker.lifecycle_state}'
        + (f' in production run "{a.tracker.production_run}"' if a.tracker.production_run else "")
        + "; only allocated trackers can go back to stock"
        for a in allocations
        if a.tracker.lifecycle_state != Lifecycle.ALLOCATED
    ]
    if errors:
        raise LifecycleError([f'order "{order.reference}" cannot be cancelled:', *errors])
    tracker_ids = [a.tracker_id for a in allocations]
    _move(tracker_ids, Lifecycle.IN_STOCK, client=None)
    Allocation.objects.filter(pk__in=[a.pk for a in allocations]).update(released_at=timezone.now())
    order.status = CustomerOrder.Status.CANCELLED
    order.save(update_fields=["status"])
    _audit(
        action="order.cancel",
        user=user,
        target=order.reference,
        client=order.client,
        count=len(tracker_ids),
        macs=[a.tracker.mac_address for a in allocations],
    )
    return len(tracker_ids)


# --- Import into a production run ----------------------------------------------------------


@transaction.atomic
def trackers_import(
    *,
    production_run: ProductionRun,
    macs_text: bytes | str | None = None,
    order: CustomerOrder | None = None,
    user=None,
) -> int:
    """Trackers allocated to the run's client become ACTIVE in the run: the MACs listed, or
    every tracker of `order` still waiting. A tracker may leave an older run of the same
    client only once that run has ended."""
    if (macs_text is None) == (order is None):
        raise LifecycleError("give either a list of MAC addresses or an order, not both")
    run = ProductionRun.objects.select_related("brand__client").get(pk=production_run.pk)
    client = run.brand.client
    now = timezone.now()
    if run.ends_at < now:
        raise LifecycleError(f'production run "{run}" ended on {run.ends_at:%Y-%m-%d}')

    if order is not None:
        order = _lock_order(order)
        if order.client_id != client.pk:
            raise LifecycleError(
                f'order "{order.reference}" is for {order.client}; production run "{run}" '
                f"belongs to {client}"
            )
        macs = list(
            order.allocations.current()
            .filter(tracker__lifecycle_state=Lifecycle.ALLOCATED)
            .order_by("tracker__mac_address")
            .values_list("tracker__mac_address", flat=True)
        )
        if not macs:
            raise LifecycleError(f'order "{order.reference}" has no trackers waiting for import')
        lines = [MacLine(0, mac, mac) for mac in macs]
    else:
        lines = parse_mac_list(macs_text)

    trackers = _lock_trackers(line.mac for line in lines)
    errors = []
    for line in lines:
        tracker = trackers.get(line.mac)
        if tracker is None:
            errors.append(_refuse(line, "is not a known tracker"))
            continue
        state = tracker.lifecycle_state
        if state not in (Lifecycle.ALLOCATED, Lifecycle.ACTIVE):
            errors.append(_refuse(line, f"is not allocated to a client (state {state})"))
        elif tracker.client_id != client.pk:
            errors.append(_refuse(line, f"is allocated to another client ({tracker.client})"))
        elif state == Lifecycle.ACTIVE:
            other = tracker.production_run
            if other is None:
                continue
            if other.pk == run.pk:
                errors.append(_refuse(line, f'is already active in production run "{run}"'))
            elif other.ends_at >= now:
                when = (
                    f"which is still live (ends {other.ends_at:%Y-%m-%d})"
                    if other.starts_at <= now
                    else f"which has not started yet (starts {other.starts_at:%Y-%m-%d})"
                )
                errors.append(_refuse(line, f'is active in production run "{other}", {when}'))
    if errors:
        raise LifecycleError(errors)

    _move(
        [trackers[line.mac].pk for line in lines],
        Lifecycle.ACTIVE,
        production_run=run,
        status=Tracker.Status.UNKNOWN,
        status_changed_at=None,
    )
    _audit(
        action="trackers.import",
        user=user,
        target=str(run),
        client=client,
        production_run=run.pk,
        order=order.reference if order else None,
        count=len(lines),
        macs=[line.mac for line in lines],
    )
    return len(lines)


# --- Retirement ----------------------------------------------------------------------------


@transaction.atomic
def tracker_retire(*, macs_text: bytes | str, user=None, reason: str = "") -> int:
    """Take trackers out of service for good (lost, broken, returned). A tracker that was
    only allocated leaves its order, which then has room for a replacement."""
    lines = parse_mac_list(macs_text)
    trackers = _lock_trackers(line.mac for line in lines)
    errors = []
    for line in lines:
        tracker = trackers.get(line.mac)
        if tracker is None:
            errors.append(line.refuse("is not a known tracker"))
        elif tracker.lifecycle_state == Lifecycle.RETIRED:
            errors.append(line.refuse("is already retired"))
    if errors:
        raise LifecycleError(errors)
    ids = [trackers[line.mac].pk for line in lines]
    released = Allocation.objects.current().filter(
        tracker__in=ids, tracker__lifecycle_state=Lifecycle.ALLOCATED
    )
    orders = list(CustomerOrder.objects.filter(allocations__in=released).distinct())
    released.update(released_at=timezone.now())
    _move(ids, Lifecycle.RETIRED)
    for order in orders:
        if order.status != CustomerOrder.Status.CANCELLED:
            _refresh_order_status(order)
    _audit(
        action="trackers.retire",
        user=user,
        target=f"{len(ids)} trackers",
        count=len(ids),
        reason=reason,
        macs=[line.mac for line in lines],
    )
    return len(ids)

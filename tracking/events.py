"""Reading the outbox: event payloads, stored or built when read.

A writer on a hot path (the status engine) stores its events without a payload: only the
columns to build it from (`Event.source_id`, `Event.place_id`). The app that writes such a
type registers one builder for it, usually in its AppConfig.ready() (tracking imports no other
app, so the builders come to it):

    @payload_builder(Event.Type.ARRIVED, Event.Type.LEFT)
    def build(events: list[Event]) -> dict[UUID, dict]: ...

A builder gets every event of its types in a batch at once and answers in one query.
Readers (the webhook fan-out, customer notifications) call `event_payloads(events)`: stored
payloads as they are, the others grouped by type, one builder call per builder and batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from uuid import UUID

from .models import Event

Builder = Callable[[list[Event]], dict[UUID, dict]]

# A new event id in SQL, time-ordered (the layout of RFC 9562's UUIDv7: the Unix time in
# milliseconds in the first 48 bits, version 7, the rest random): the set-based writers insert
# thousands of events at once, and ordered ids land at the right edge of the primary key's
# index instead of on random pages of it. Receivers still get a unique random-looking id.
NEW_EVENT_ID_SQL = (
    "encode(set_byte(overlay(uuid_send(gen_random_uuid())"
    " placing substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::int8) FROM 3)"
    " FROM 1 FOR 6), 6, 112 + (random() * 15)::int), 'hex')::uuid"
)

_builders: dict[str, Builder] = {}


class NoPayloadBuilder(LookupError):
    """An event without a stored payload whose type has no registered builder."""


def register_payload_builder(types: Iterable[str], builder: Builder) -> None:
    """`builder` builds the payloads of events of these types that were stored without one.
    Registering the same builder again is harmless; another builder for a taken type is a
    programming error."""
    for type_ in types:
        type_ = str(type_)
        if type_ not in Event.Type.values:
            raise ValueError(f"unknown event type {type_!r}")
        taken = _builders.get(type_)
        if taken is not None and taken is not builder:
            raise ValueError(f"event type {type_!r} already has a payload builder: {taken!r}")
        _builders[type_] = builder


def payload_builder(*types: str) -> Callable[[Builder], Builder]:
    """Decorator form of register_payload_builder."""

    def register(builder: Builder) -> Builder:
        register_payload_builder(types, builder)
        return builder

    return register


def has_payload_builder(type_: str) -> bool:
    return str(type_) in _builders


def event_payloads(events: Iterable[Event]) -> dict[UUID, dict]:
    """The payload of each event, by event id: stored ones as stored, the rest from their
    builders, each builder called once with all of its events."""
    payloads: dict[UUID, dict] = {}
    pending: dict[Builder, list[Event]] = {}
    for event in events:
        if event.payload is not None:
            payloads[event.id] = event.payload
            continue
        builder = _builders.get(event.type)
        if builder is None:
            raise NoPayloadBuilder(
                f"event {event.id} ({event.type}) has no stored payload and no builder is"
                " registered for its type"
            )
        pending.setdefault(builder, []).append(event)
    for builder, batch in pending.items():
        built = builder(batch)
        for event in batch:
            # A builder answers for every event it is given; one whose source row is gone
            # (deleted with its tracker, say) still gets a payload, an empty one.
            payloads[event.id] = built.get(event.id, {})
    return payloads

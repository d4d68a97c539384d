"""The payloads of the status engine's events, built when the outbox is read.

The engine stores its events without a payload (geofencing.services.statuses._EVENTS_SQL):
each names its StatusHistory row (`source_id`) and the place it is about (`place_id`: the
place reached for status_changed, arrived and delivered; the place left for left and
moved_after_delivery). One statement builds the payloads of a whole batch, in the shape the
engine used to store: the tracker, from and to status, when, the place, the report; plus the
place left.
"""

from __future__ import annotations

import json
from uuid import UUID

from django.db import connection

from tracking.events import payload_builder
from tracking.models import Event, Tracker

from .models import Place, StatusHistory

ENGINE_EVENT_TYPES = (
    Event.Type.STATUS_CHANGED,
    Event.Type.ARRIVED,
    Event.Type.LEFT,
    Event.Type.DELIVERED,
    Event.Type.MOVED_AFTER_DELIVERY,
)


def _place(alias: str) -> str:
    return (
        f"CASE WHEN {alias}.id IS NULL THEN NULL ELSE jsonb_build_object("
        f"'id', {alias}.id, 'name', {alias}.name, 'kind', {alias}.kind) END"
    )


_PAYLOADS_SQL = f"""
SELECT e.id,
       jsonb_build_object(
           'tracker', jsonb_build_object('id', t.id, 'mac_address', t.mac_address,
                                         'label', t.label, 'production_run', t.production_run_id),
           'from_status', h.from_status, 'to_status', h.to_status, 'at', h.at,
           'place', {_place("p")}, 'from_place', {_place("fp")}, 'report_id', h.report_id)
FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[]) AS e(id, source_id, place_id)
JOIN {StatusHistory._meta.db_table} h ON h.id = e.source_id
JOIN {Tracker._meta.db_table} t ON t.id = h.tracker_id
LEFT JOIN {Place._meta.db_table} p ON p.id = e.place_id
LEFT JOIN {Place._meta.db_table} fp ON fp.id = h.from_place_id
"""


@payload_builder(*ENGINE_EVENT_TYPES)
def engine_event_payloads(events: list[Event]) -> dict[UUID, dict]:
    """The payloads of the engine's events, one query for the batch."""
    if not events:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            _PAYLOADS_SQL,
            [
                [e.id for e in events],
                [e.source_id for e in events],
                [e.place_id for e in events],
            ],
        )
        return {
            # Django reads jsonb as text (JSONField parses it); a plain cursor gets the text
            UUID(str(event_id)): payload if isinstance(payload, dict) else json.loads(payload)
            for event_id, payload in cursor.fetchall()
        }

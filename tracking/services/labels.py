"""Writes of trackers' labels: one at a time, or a client's CSV (all rows or none).

Every function is keyword-only and atomic."""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from ..macs import normalize_mac
from ..models import (
    AuditEvent,
    Client,
    Tracker,
)
from .tenancy import _require_admin, _tenancy_actor

# --- Tracker labels ------------------------------------------------------------------------

LABEL_MAX_LENGTH = Tracker._meta.get_field("label").max_length
AUDIT_LABELS_SHOWN = 200
LABEL_LOOKUP_BATCH = 5000


def _clean_label(label: str) -> str:
    """Labels are one line of text: surrounding blanks go, inner line breaks become spaces."""
    return " ".join(str(label).split())


@transaction.atomic
def tracker_label_set(*, user, tracker: Tracker, label: str) -> Tracker:
    """An admin of the tracker's client (or staff) names it; audited with before and after."""
    if tracker.client_id is None:
        raise PermissionDenied("This tracker belongs to no client.")
    _require_admin(user=user, client=tracker.client)
    label = _clean_label(label)
    if len(label) > LABEL_MAX_LENGTH:
        raise ValidationError(
            {"label": f"A label has at most {LABEL_MAX_LENGTH} characters; this has {len(label)}."}
        )
    before = Tracker.objects.select_for_update().values_list("label", flat=True).get(pk=tracker.pk)
    if label != before:
        Tracker.objects.filter(pk=tracker.pk).update(label=label)
        AuditEvent.objects.create(
            actor=_tenancy_actor(user),
            action="tracker.label",
            client_id=tracker.client_id,
            target=tracker.mac_address,
            details={"tracker": tracker.pk, "before": before, "after": label},
        )
    tracker.label = label
    return tracker


@dataclass(frozen=True)
class LabelImport:
    changed: int
    unchanged: int


def _label_rows(data: bytes | str) -> list[tuple[int, list[str]]]:
    """(row number, cells) of a CSV file, blank rows left out; the header is row 1 if it is
    the first line. UTF-8 (a byte order mark is fine) or UTF-16 with its byte order mark;
    comma or semicolon between columns."""
    if isinstance(data, bytes):
        utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        try:
            text = data.decode("utf-16" if utf16 else "utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"The file is not {'UTF-16' if utf16 else 'UTF-8'} text (byte {exc.start + 1}"
                " cannot be decoded); save it as UTF-8 CSV."
            ) from None
    else:
        text = data.removeprefix("\ufeff")
    if "\x00" in text:
        raise ValidationError("The file holds NUL bytes: it is not a CSV text file.")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        return [
            (number, cells)
            for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1)
            if any(cell.strip() for cell in cells)
        ]
    except csv.Error as exc:
        raise ValidationError(f"The file is not readable as CSV: {exc}.") from None


def _shown(value: str, limit: int = 40) -> str:
    return f'"{value}"' if len(value) <= limit else f'"{value[:limit]}…"'


@transaction.atomic
def tracker_labels_import(*, user, client: Client, data: bytes | str) -> LabelImport:
    """Labels of `client`'s trackers from a CSV file with a header row naming the columns
    `mac` and `label` (in any order; other columns are ignored), MACs in any spelling.

    Every row is checked before anything is written; a ValidationError names each bad row
    (its number, field and value): a MAC that is not one or that no tracker of the client
    has, a tracker of another of the user's clients, a MAC given twice, a label too long.
    With any bad row nothing is written. One audit row records the import."""
    _require_admin(user=user, client=client)
    rows = _label_rows(data)
    if not rows:
        raise ValidationError(
            "The file is empty: give a header row mac,label and one row per tracker."
        )
    header_number, header = rows[0]
    names = [cell.strip().lower() for cell in header]
    if "mac" not in names or "label" not in names:
        raise ValidationError(
            f"Row {header_number}: the header must name the columns mac and label; "
            f"found {_shown(','.join(header), 80)}."
        )
    mac_at, label_at = names.index("mac"), names.index("label")

    errors: list[tuple[int, str]] = []  # (row number, message)
    wanted: dict[str, tuple[int, str, str]] = {}  # mac -> (row number, as written, label)
    for number, cells in rows[1:]:
        written = cells[mac_at].strip() if mac_at < len(cells) else ""
        label = _clean_label(cells[label_at]) if label_at < len(cells) else ""
        mac = normalize_mac(written)
        if not written:
            errors.append((number, f"Row {number}, mac: empty; every row needs a MAC address."))
            continue
        if mac is None:
            errors.append((number, f"Row {number}, mac: {_shown(written)} is not a MAC address."))
            continue
        if mac in wanted:
            first = wanted[mac][0]
            errors.append((number, f"Row {number}, mac: {_shown(written)} repeats row {first}."))
            continue
        if len(label) > LABEL_MAX_LENGTH:
            message = (
                f"Row {number}, label: {_shown(label)} is {len(label)} characters long;"
                f" a label has at most {LABEL_MAX_LENGTH}."
            )
            errors.append((number, message))
        wanted[mac] = (number, written, label)
    if not wanted and not errors:
        raise ValidationError("The file has a header but no rows.")

    # Trackers the user may see: the client's are changed, another client's are named (the
    # user sees that client anyway); a tracker the user may not see is unknown, like a MAC
    # no tracker has.
    found = {}
    macs = list(wanted)
    for at in range(0, len(macs), LABEL_LOOKUP_BATCH):  # a query has at most 65,535 parameters
        found |= {
            mac: (pk, client_id, client_name, label)
            for pk, mac, client_id, client_name, label in Tracker.objects.visible_to(user)
            .filter(mac_address__in=macs[at : at + LABEL_LOOKUP_BATCH])
            .values_list("pk", "mac_address", "client_id", "client__name", "label")
        }
    for mac, (number, written, _label) in wanted.items():
        if mac not in found:
            errors.append((number, f"Row {number}, mac: {_shown(written)} is unknown:"
                                   f" {client.name} has no tracker with this MAC."))  # fmt: skip
        elif found[mac][1] != client.pk:
            errors.append((number, f"Row {number}, mac: {_shown(written)} is a tracker of"
                                   f" another client ({found[mac][2] or 'none'}),"
                                   f" not of {client.name}."))  # fmt: skip
    if errors:
        raise ValidationError([message for _, message in sorted(errors, key=lambda e: e[0])])

    changes = {
        found[mac][0]: label for mac, (_, _, label) in wanted.items() if found[mac][3] != label
    }
    if changes:
        ids = sorted(changes)
        trackers = []
        for at in range(0, len(ids), LABEL_LOOKUP_BATCH):
            trackers += (
                Tracker.objects.select_for_update()
                .filter(pk__in=ids[at : at + LABEL_LOOKUP_BATCH])
                .only("id", "label")
            )
        for tracker in trackers:
            tracker.label = changes[tracker.pk]
        Tracker.objects.bulk_update(trackers, ["label"], batch_size=1000)
    AuditEvent.objects.create(
        actor=_tenancy_actor(user),
        action="tracker.labels_import",
        client=client,
        target=f"{len(changes)} labels from a CSV file",
        details={
            "rows": len(wanted),
            "changed": len(changes),
            "changes": [  # the first AUDIT_LABELS_SHOWN, as (MAC, before, after)
                [mac, found[mac][3], label]
                for mac, (_, _, label) in wanted.items()
                if found[mac][0] in changes
            ][:AUDIT_LABELS_SHOWN],
        },
    )
    return LabelImport(changed=len(changes), unchanged=len(wanted) - len(changes))

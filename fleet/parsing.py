"""MAC address lists as they arrive: manufacturer CSVs, spreadsheets saved by hand, text
pasted from a barcode scanner.

Tolerated: upper or lower case; colons, dashes, dots or no separators; a UTF-8 (or UTF-16)
byte order mark; blank lines; comma or semicolon as the column separator; an optional header
row (a column named "mac" or "mac_address" is used, otherwise the first column).
Every problem is reported with its line number and value, all at once.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass

from tracking.macs import SEPARATORS, normalize_mac

from .exceptions import LifecycleError

__all__ = ["MacLine", "decode_text", "normalize_mac", "parse_mac_list"]

_LIST_SEPARATORS = re.compile(r"[,;]")
_NOT_HEX = re.compile(r"[G-Zg-z_]")


@dataclass(frozen=True, slots=True)
class MacLine:
    line: int  # 1-based line number in the input
    value: str  # as written (trimmed), for error messages
    mac: str  # normalised: "AA:BB:CC:DD:EE:FF"

    def refuse(self, reason: str) -> str:
        return f'line {self.line}: "{self.value}" {reason}'


def decode_text(data: bytes | str) -> str:
    if isinstance(data, str):
        text = data.removeprefix("\ufeff")
    else:
        bom = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        encoding = "utf-16" if bom else "utf-8-sig"
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise LifecycleError(
                f"the file is not {'UTF-16' if bom else 'UTF-8'} text "
                f"(byte {exc.start + 1} cannot be decoded); save it as UTF-8 text"
            ) from None
    if "\x00" in text:
        # Valid UTF-8 by the letter, but no list of MACs: binary data, or UTF-16 saved
        # without its byte order mark.
        raise LifecycleError(
            "the file holds NUL bytes: it is binary, or UTF-16 without a byte order mark; "
            "save it as UTF-8 text"
        )
    return text


def parse_mac_list(data: bytes | str) -> list[MacLine]:
    """The MACs of a list, in input order. Raises LifecycleError naming every bad or
    duplicated line; an empty list is an error too.

    With a header row, the MAC column is read and the other columns are ignored. Without
    one, every comma- or semicolon-separated value must be a MAC, so a headerless file with
    extra columns is refused rather than half read.
    """
    lines = decode_text(data).splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    column, has_header = _header(first, delimiter)

    errors: list[str] = []
    seen: dict[str, int] = {}
    result: list[MacLine] = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        if has_header:
            has_header = False
            continue
        if column is None:
            values = [v.strip() for v in _LIST_SEPARATORS.split(raw) if v.strip()]
        else:
            cells = _cells(raw, delimiter)
            values = [cells[column].strip() if column < len(cells) else ""]
        for value in values:
            mac = normalize_mac(value)
            if mac is None:
                errors.append(f'line {number}: "{value}" is not a MAC address')
            elif mac in seen:
                errors.append(f'line {number}: "{value}" is a duplicate of line {seen[mac]}')
            else:
                seen[mac] = number
                result.append(MacLine(number, value, mac))
    if errors:
        raise LifecycleError(errors)
    if not result:
        raise LifecycleError("no MAC addresses found in the input")
    return result


def _header(first: str, delimiter: str) -> tuple[int | None, bool]:
    """(column holding the MACs or None for a plain list, whether line one is a header)."""
    cells = [cell.strip().lower() for cell in _cells(first, delimiter)]
    if not first or normalize_mac(cells[0]) is not None:
        return None, False
    for index, cell in enumerate(cells):
        if "mac" in cell:
            return index, True
    # A header with other names ("device;serial"). A mistyped MAC in the first line must
    # still be reported, so a first cell that has a MAC's length is never a header.
    head = cells[0]
    if _NOT_HEX.search(head) and len(SEPARATORS.sub("", head)) != 12:
        return 0, True
    return None, False


def _cells(line: str, delimiter: str) -> list[str]:
    return next(csv.reader([line], delimiter=delimiter)) or [""]

"""MAC addresses in any spelling people and scanners write them, to the one stored form."""

from __future__ import annotations

import re

SEPARATORS = re.compile(r"[\s:\-.]")  # what may stand between the hex digits
_HEX12 = re.compile(r"[0-9A-F]{12}")
_CANONICAL = re.compile(r"[0-9A-F]{2}(?::[0-9A-F]{2}){5}")


def normalize_mac(value: str) -> str | None:
    """ "aa-bb-cc-dd-ee-ff", "aabb.ccdd.eeff", "AABBCCDDEEFF" -> "AA:BB:CC:DD:EE:FF"; None if
    it is not a MAC address."""
    if _CANONICAL.fullmatch(value):  # most lists are written this way already
        return value
    c = SEPARATORS.sub("", value).upper()
    if not _HEX12.fullmatch(c):
        return None
    return f"{c[0:2]}:{c[2:4]}:{c[4:6]}:{c[6:8]}:{c[8:10]}:{c[10:12]}"


# Six hex pairs, each optionally after a separator, not inside a longer hex run: a MAC in any
# of the spellings above, wherever it stands in a text.
_ANYWHERE = re.compile(
    r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{2}(?:[\s:\-.]?[0-9A-Fa-f]{2}){5}(?![0-9A-Fa-f])"
)


def contains_mac(text: str) -> bool:
    """Whether `text` (a label people typed) holds something spelled like a MAC address."""
    return bool(_ANYWHERE.search(text or ""))

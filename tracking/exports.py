"""Streamed downloads: CSV, GPX 1.1 and GeoJSON written row by row from a database cursor,
so a year of reports never sits in memory as a list. The views hand in an iterator (a
queryset's `.iterator(chunk_size=...)`, a server-side cursor on PostgreSQL) and get a
StreamingHttpResponse whose chunks hold about CHUNK_ROWS rows each.

Times are ISO 8601 in UTC with their offset ("2026-12-05T06:51:25+00:00"); coordinates are
written as stored, at full precision (Python's shortest round-trip form of the double)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from django.http import StreamingHttpResponse
from django.utils.http import content_disposition_header

CHUNK_ROWS = 500  # rows per chunk sent (and per database fetch)

CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "gpx": "application/gpx+xml; charset=utf-8",
    "geojson": "application/geo+json; charset=utf-8",
}


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value is not None else ""


def number(value: float | None) -> str:
    return repr(float(value)) if value is not None else ""


def download(chunks: Iterable[str], *, fmt: str, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in chunks), content_type=CONTENT_TYPES[fmt]
    )
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _batched(rows: Iterable, size: int = CHUNK_ROWS) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def csv_chunks(header: list[str], rows: Iterable, line: Callable[[object], list]) -> Iterator[str]:
    """The header, then `line(row)` for each row (free text in it through `text`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    for batch in _batched(rows):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows([line(row) for row in batch])
        yield buffer.getvalue()


def text(value: str | None) -> str:
    """Free text people typed (a label, a name) for a CSV cell: one that starts like a
    spreadsheet formula gets a leading apostrophe, so a spreadsheet shows it, never runs it."""
    value = value or ""
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# Characters XML 1.0 does not allow at all (a label may hold anything people paste).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    return escape(_NOT_XML.sub("", value))


def gpx_chunks(*, name: str, points: Iterable, at: datetime) -> Iterator[str]:
    """A GPX 1.1 document with one track of one segment; each point (lon, lat, time) is a
    trkpt with its time."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="Tracker platform" xmlns="http://www.topografix.com/GPX/1/1"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://www.topografix.com/GPX/1/1'
        ' http://www.topografix.com/GPX/1/1/gpx.xsd">\n'
        f"<metadata><name>{_xml_text(name)}</name><time>{iso(at)}</time></metadata>\n"
        f"<trk><name>{_xml_text(name)}</name><trkseg>\n"
    )
    for batch in _batched(points):
        yield "".join(
            f"<trkpt lat={quoteattr(number(lat))} lon={quoteattr(number(lon))}>"
            f"<time>{iso(observed_at)}</time></trkpt>\n"
            for lon, lat, observed_at in batch
        )
    yield "</trkseg></trk>\n</gpx>\n"


def geojson_chunks(
    *, features: Iterable, feature: Callable[[object], dict], properties: dict | None = None
) -> Iterator[str]:
    """A FeatureCollection (RFC 7946), one `feature(row)` per row, written as it is read."""
    head = {"type": "FeatureCollection"}
    if properties:
        head["properties"] = properties  # a foreign member, as RFC 7946 allows
    yield json.dumps(head)[:-1] + ', "features": ['
    first = True
    for batch in _batched(features):
        text = ",\n".join(json.dumps(feature(row), allow_nan=False) for row in batch)
        yield ("\n" if first else ",\n") + text
        first = False
    yield "\n]}\n"

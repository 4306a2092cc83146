"""The export formats, each a generator of bytes: JSON (incidents-export 1.3), GeoJSON and CSV.

The JSON document is written as it is read, so its header comes last: it carries the count and the checksum
of what came before. The checksum covers the incidents only, each in its canonical form (see
serialize.canonical_json), so the same data gives the same checksum whenever, wherever and by whomever it
is exported.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from incidents.exports.flat import flat_columns, flat_row
from incidents.exports.stored import StoredReader

FORMAT_NAME = "incidents-export"
FORMAT_VERSION = "1.3"
# The GeoJSON export's own version: its features did not change when claims gained their group in 1.1; in
# 1.1 (with incidents-export 1.3) a feature's id and properties.id are the incident's public id, not a number.
GEOJSON_FORMAT_VERSION = "1.1"
# Every version whose JSON Schema is served at /export/schema/<version>.json (older exports point there).
SCHEMA_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
GEOJSON_FORMAT_NAME = "incidents-export-geojson"

FORMATS = ("json", "geojson", "csv")
MEDIA_TYPES = {
    "json": "application/json",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
}


@dataclass
class Export:
    """What to export, for whom, and how to name it."""

    stored: StoredReader  # the canonical records of the selection, in id order
    filters: dict[str, Any]
    staff: bool
    permalink_prefix: str  # the incident's id is appended: https://example.org/incidents/
    export_url: str
    schema_url: str
    hxl: bool = False
    exported_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Called with the number of incidents written so far, after each batch (progress bars).
    progress: Callable[[int], None] | None = None

    @property
    def audience(self) -> str:
        return "staff" if self.staff else "public"


def filters_description(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters as plain JSON values, without the blank ones and the page number."""
    described: dict[str, Any] = {}
    for name, value in sorted(filters.items()):
        if name == "page" or value in (None, "", []):
            continue
        described[name] = (
            [_plain(item) for item in value] if isinstance(value, list | tuple) else _plain(value)
        )
    return described


def _plain(value: Any) -> Any:
    """A filter value as JSON: dates as YYYY-MM-DD, enums by value, a bounding box as "w,s,e,n"."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _header(export: Export, count: int, checksum: str | None) -> dict[str, Any]:
    filters = filters_description(export.filters)
    scope = "published incidents" if not export.staff else "incidents of every status (staff export)"
    when = export.exported_at.strftime("%Y-%m-%d %H:%M UTC")
    citation = (
        f"Incidents database, export of {count} {scope}"
        + (f" matching {json.dumps(filters, ensure_ascii=False)}" if filters else "")
        + f", retrieved {when} from {export.export_url}"
        + (f"; {FORMAT_NAME} {FORMAT_VERSION}, SHA-256 {checksum}" if checksum else "")
        + "."
    )
    header: dict[str, Any] = {
        "exported_at": export.exported_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "filters": filters,
        "audience": export.audience,
        "includes_unpublished": export.staff,
        "count": count,
    }
    if checksum is not None:
        header["checksum"] = {"algorithm": "sha256", "value": checksum}
    header.update({"citation": citation, "export_url": export.export_url, "schema": export.schema_url})
    if export.staff:
        header["notice"] = (
            "Staff export: it may hold unpublished incidents and confidential notes. Do not publish it."
        )
    return header


def _tick(export: Export, written: int) -> None:
    if export.progress is not None:
        export.progress(written)


def _digest_batch(digest: Any, batch: list[tuple[str, bytes]]) -> None:
    """Add a batch of canonical records to the checksum: each record, then a line feed."""
    digest.update(b"\n".join([canonical for _, canonical in batch]))
    digest.update(b"\n")


def checksum(stored: StoredReader) -> tuple[int, str]:
    """The count and the checksum write_json's header gives for these records, without the document."""
    digest = hashlib.sha256()
    count = 0
    for batch in stored.batches():
        _digest_batch(digest, batch)
        count += len(batch)
    return count, digest.hexdigest()


def write_json(export: Export) -> Iterator[bytes]:
    """The incidents-export 1.3 document: format, incidents (one a line), then the header."""
    yield b'{"format":"' + FORMAT_NAME.encode() + b'","format_version":"' + FORMAT_VERSION.encode() + b'",'
    yield b'"incidents":['
    digest = hashlib.sha256()
    count = 0
    prefix = export.permalink_prefix
    separator = b"\n"
    # The permalink leads the record; it is not part of the content the checksum covers.
    url_start = b'{"url":' + orjson.dumps(prefix)[:-1]
    for batch in export.stored.batches():
        # One join a batch; the record's bytes after its "{" are a view, not a copy.
        parts: list[bytes | memoryview] = []
        for public_id, canonical in batch:
            parts += (separator, url_start, public_id.encode(), b'",', memoryview(canonical)[1:])
            separator = b",\n"
        _digest_batch(digest, batch)
        count += len(batch)
        yield b"".join(parts)
        _tick(export, count)
    header = _header(export, count, digest.hexdigest())
    yield b'\n],\n"header":' + orjson.dumps(header, option=orjson.OPT_INDENT_2) + b"}\n"


def write_geojson(export: Export) -> Iterator[bytes]:
    """An RFC 7946 FeatureCollection: one Point feature per incident, longitude first; null geometry when
    the incident has no coordinates, so that the features are exactly the incidents of the view."""
    yield b'{"type":"FeatureCollection","features":['
    count = 0
    prefix = export.permalink_prefix
    staff = export.staff
    separator = b"\n"
    for batch in export.stored.batches():
        features = []
        for public_id, canonical in batch:
            record = orjson.loads(canonical)
            location = record["location"]
            geometry = (
                None
                if location["latitude"] is None
                else {"type": "Point", "coordinates": [location["longitude"], location["latitude"]]}
            )
            properties = flat_row(record, prefix + public_id, staff=staff)
            features.append(
                orjson.dumps(
                    {"type": "Feature", "id": public_id, "geometry": geometry, "properties": properties}
                )
            )
        count += len(batch)
        yield separator + b",\n".join(features)
        separator = b",\n"
        _tick(export, count)
    header = _header(export, count, None)
    header = {"format": GEOJSON_FORMAT_NAME, "format_version": GEOJSON_FORMAT_VERSION, **header}
    yield b'\n],\n"export":' + orjson.dumps(header, option=orjson.OPT_INDENT_2) + b"}\n"


# Spreadsheets run a cell that starts with one of these as a formula (CSV injection, OWASP).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value.__class__ is str and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(export: Export) -> Iterator[bytes]:
    """One row per incident (UTF-8, comma-separated, RFC 4180 quoting); an HXL hashtag row when asked."""
    columns = flat_columns(staff=export.staff)
    names = [name for name, _tag in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(names)
    if export.hxl:
        writer.writerow([tag for _name, tag in columns])
    count = 0
    prefix = export.permalink_prefix
    staff = export.staff
    for batch in export.stored.batches():
        for public_id, canonical in batch:
            row = flat_row(orjson.loads(canonical), prefix + public_id, staff=staff)
            writer.writerow([_cell(row[name]) for name in names])
        count += len(batch)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        _tick(export, count)
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


WRITERS: dict[str, Callable[[Export], Iterator[bytes]]] = {
    "json": write_json,
    "geojson": write_geojson,
    "csv": write_csv,
}

"""Putting an export together: the selection for the audience, the reader, and the names it carries."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa

from incidents.exports.formats import FORMAT_VERSION, Export, checksum, filters_description
from incidents.exports.stored import StoredReader
from incidents.queries.selection import incident_selection


def make_export(
    filters: dict[str, Any],
    *,
    staff: bool,
    fmt: str,
    base_url: str,
    hxl: bool = False,
    exported_at: dt.datetime | None = None,
) -> Export:
    """An export of the incidents matching filters; unpublished ones and confidential fields only for staff.

    base_url is the address the app is reached at (https://example.org/), for permalinks and the citation.
    """
    base = base_url.rstrip("/")
    selection = incident_selection(filters, staff=staff)
    query = urlencode(filters_description(filters), doseq=True)
    if hxl and fmt == "csv":
        query = f"{query}&hxl=1" if query else "hxl=1"
    export = Export(
        stored=StoredReader(selection, staff=staff),
        filters=filters,
        staff=staff,
        permalink_prefix=f"{base}/incidents/",
        export_url=f"{base}/export.{fmt}" + (f"?{query}" if query else ""),
        schema_url=f"{base}/export/schema/{FORMAT_VERSION}.json",
        hxl=hxl,
    )
    if exported_at is not None:
        export.exported_at = exported_at
    return export


def public_checksum(connection: sa.Connection | None = None) -> tuple[int, str]:
    """The count and checksum the header of the public JSON export without filters gives (/export.json
    logged out): every published incident. Read through connection when given, else the session's."""
    stored = StoredReader(incident_selection({}, staff=False), staff=False, connection=connection)
    return checksum(stored)

"""What the API reads: pages of incident and source records for an audience, and single records."""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from marshmallow import ValidationError

from incidents.exports.reader import SOURCE_COLUMNS, IncidentReader
from incidents.exports.serialize import incident_record, source_record
from incidents.extensions import db
from incidents.models import Citation, Incident, Source
from incidents.public_ids import is_public_id
from incidents.queries.selection import incident_selection
from incidents.vocabulary import PublicationStatus


def _with_url(record: dict[str, Any], permalink_prefix: str) -> dict[str, Any]:
    return {"url": f"{permalink_prefix}{record['id']}", **record}


def incident_page(
    filters: dict[str, Any], *, staff: bool, after_id: int, limit: int, permalink_prefix: str
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to limit records after the incident after_id in the order incidents were entered, and the cursor
    to continue with (the last one's public id; None at the end)."""
    reader = IncidentReader(incident_selection(filters, staff=staff), staff=staff)
    reader.batch_size = limit + 1
    rows = [incident for batch in reader.batches(after_id=after_id, limit=limit + 1) for incident in batch]
    records = [_with_url(incident_record(r, staff=staff), permalink_prefix) for r in rows[:limit]]
    next_cursor = records[-1]["id"] if len(rows) > limit else None
    return records, next_cursor


def incident_position(cursor: str) -> int:
    """Where a page after the incident of this public id starts (its id in the database); ValidationError
    when no incident has it. Any public id will do: the page holds what its reader may see after it."""
    position = None
    if is_public_id(cursor):
        position = db.session.scalar(sa.select(Incident.id).where(Incident.public_id == cursor))
    if position is None:
        raise ValidationError({"cursor": ["Not a cursor this API gave out."]})
    return int(position)


def incident_by_id(incident_id: int, *, staff: bool, permalink_prefix: str) -> dict[str, Any] | None:
    """The record, or None when there is no such incident or this audience may not see it."""
    selection = incident_selection({}, staff=staff).where(Incident.id == incident_id)
    for batch in IncidentReader(selection, staff=staff).batches(limit=1):
        return _with_url(incident_record(batch[0], staff=staff), permalink_prefix)
    return None


def stored_public_record(public_id: str, stored: bytes | None, permalink_prefix: str) -> dict[str, Any]:
    """The public's record from its stored bytes (derived.stored_records: the record incident_by_id would
    build), with its URL."""
    if stored is None:
        raise ValueError(f"incident {public_id} has no stored record of this layout")
    return _with_url(orjson.loads(stored), permalink_prefix)


def _source_selection(staff: bool) -> sa.Select[Any]:
    query = sa.select(*SOURCE_COLUMNS.values())
    if not staff:
        # A source cited only by unpublished incidents (a witness's testimony, say) is not public either.
        cited = (
            sa.select(Citation.id)
            .join(Incident, Incident.id == Citation.incident_id)
            .where(Citation.source_id == Source.id)
            .where(Incident.status == PublicationStatus.PUBLISHED)
        )
        # A confidential source is never public, whoever cites it (exports.serialize.public_source).
        query = query.where(cited.exists(), Source.confidential.is_(False))
    return query


def _source_records(query: sa.Select[Any]) -> list[dict[str, Any]]:
    names = list(SOURCE_COLUMNS)
    return [source_record(dict(zip(names, row, strict=True))) for row in db.session.execute(query)]


def source_page(*, staff: bool, after_id: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
    query = _source_selection(staff).where(Source.id > after_id).order_by(Source.id).limit(limit + 1)
    records = _source_records(query)
    next_after = records[limit - 1]["id"] if len(records) > limit else None
    return records[:limit], next_after


def source_by_id(source_id: int, *, staff: bool) -> dict[str, Any] | None:
    records = _source_records(_source_selection(staff).where(Source.id == source_id))
    return records[0] if records else None

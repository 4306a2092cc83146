"""Reading incidents for output in keyset-paginated batches, with their relations fetched in bulk.

Loading ORM objects with their selectin relationships costs several queries and thousands of Python objects
per incident; an export of a million incidents needs a flat cost instead. Each batch is one Core SELECT of
the incident columns (after the last id seen, in id order) and four more for the types, citations with their
sources, claims and best estimates of the whole batch. Memory holds one batch at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler

from incidents.exports.serialize import source_record
from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    Incident,
    IncidentType,
    Source,
    User,
    incident_type_links,
)

BATCH_SIZE = 2000
# Sources are shared by many incidents: keep the ones seen recently, within a bound so memory stays flat.
SOURCE_CACHE_LIMIT = 20_000


def _sqlite_from_hint(_compiler: Any, _table: Any, text: str | None) -> str | None:
    return text


# SQLAlchemy renders no table hint for SQLite; with this it renders `FROM incidents NOT INDEXED` for the
# hint given below (and for no statement that gives none). Without it SQLite's planner, lacking ANALYZE
# statistics, walks the status index and sorts every published row for each batch: quadratic in the export.
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint  # type: ignore[method-assign,assignment]


def _raw(column: Any) -> Any:
    """The column as stored, without SQLAlchemy's per-value conversion (enum lookups, date parsing)."""
    return sa.type_coerce(column, sa.String)


_INCIDENT_COLUMNS: dict[str, Any] = {
    "id": Incident.id,
    "public_id": Incident.public_id,
    "title": Incident.title,
    "narrative": Incident.narrative,
    "start_date": _raw(Incident.start_date),
    "end_date": _raw(Incident.end_date),
    "date_precision": _raw(Incident.date_precision),
    "place_name": Incident.place_name,
    "admin1": Incident.admin1,
    "admin2": Incident.admin2,
    "country": Incident.country,
    "latitude": Incident.latitude,
    "longitude": Incident.longitude,
    "location_precision": _raw(Incident.location_precision),
    "perpetrators": Incident.perpetrators,
    "victims": Incident.victims,
    "verification_grade": _raw(Incident.verification_grade),
    "killed_low": Incident.killed_low,
    "killed_high": Incident.killed_high,
    "injured_low": Incident.injured_low,
    "injured_high": Incident.injured_high,
    "detained_low": Incident.detained_low,
    "detained_high": Incident.detained_high,
    "disappeared_low": Incident.disappeared_low,
    "disappeared_high": Incident.disappeared_high,
    "displaced_low": Incident.displaced_low,
    "displaced_high": Incident.displaced_high,
    "source_count": Incident.source_count,
    "location_coarsened": Incident.location_coarsened,
}
# The public reads the location the public sees (derived.public_locations) under the same names: nothing of
# the recorded location of a sensitive incident is ever read for public output.
_PUBLIC_LOCATION: dict[str, Any] = {
    "place_name": Incident.public_place_name,
    "latitude": Incident.public_latitude,
    "longitude": Incident.public_longitude,
    "location_precision": _raw(Incident.public_location_precision),
}


def as_public(columns: dict[str, Any]) -> dict[str, Any]:
    """An incident's columns (every one, as the bulk writer has them) as the public reader reads them."""
    return columns | {name: columns[f"public_{name}"] for name in _PUBLIC_LOCATION}


# Read only for staff output.
_STAFF_COLUMNS: dict[str, Any] = {
    "location_sensitive": Incident.location_sensitive,
    "location_sensitive_reason": Incident.location_sensitive_reason,
    "public_place_name": Incident.public_place_name,
    "public_latitude": Incident.public_latitude,
    "public_longitude": Incident.public_longitude,
    "public_location_precision": _raw(Incident.public_location_precision),
    "status": _raw(Incident.status),
    "confidential_notes": Incident.confidential_notes,
    "created_at": Incident.created_at,
    "updated_at": Incident.updated_at,
    "created_by_id": Incident.created_by_id,
    "updated_by_id": Incident.updated_by_id,
    "version": Incident.version,
}
SOURCE_COLUMNS: dict[str, Any] = {
    "id": Source.id,
    "title": Source.title,
    "kind": _raw(Source.kind),
    "publisher": Source.publisher,
    "author": Source.author,
    "publication_date": _raw(Source.publication_date),
    "url": Source.url,
    "accessed_date": _raw(Source.accessed_date),
    "archive_url": Source.archive_url,
    "language": Source.language,
    "reliability": _raw(Source.reliability),
    "confidential": Source.confidential,
}


def fetch_raw(connection: sa.Connection, query: sa.Select[Any] | Any) -> list[Any]:
    """The rows as the database driver gives them: plain tuples, none of SQLAlchemy's per-row work.

    Every column read this way is stored as it is written out (strings, numbers, bytes; dates as ISO text
    on SQLite and date objects on PostgreSQL, which serialize.iso_date and iso_timestamp accept).
    """
    result = connection.execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()


def type_order(slug_and_label: tuple[str, str]) -> tuple[str, str]:
    """Types in a record: by label, then slug, in Python's order (a database's collation may differ)."""
    return slug_and_label[1], slug_and_label[0]


@dataclass
class IncidentRows:
    """One incident as read: its columns, and its relations as plain values."""

    columns: dict[str, Any]
    types: list[tuple[str, str]] = field(default_factory=list)
    # (locator, quote, source record, [(category, low, high), …]) in citation order
    # (locator, quote, source, claims as (category, low, high, group))
    citations: list[tuple[str, str, dict[str, Any], list[tuple[str, int, int, str]]]] = field(
        default_factory=list
    )
    estimates: dict[str, int] = field(default_factory=dict)
    created_by: str | None = None
    updated_by: str | None = None


# The condition "this column is the id of an incident of the batch".
_Belongs = Callable[[Any], Any]


def _belongs(ids: list[int]) -> _Belongs:
    """The condition on a column for a batch's ids (ascending)."""

    def belongs(column: Any) -> Any:
        # Ids of a batch are mostly consecutive: a range reads the index once; else list them.
        first, last = ids[0], ids[-1]
        if last - first < 2 * len(ids):
            return column.between(first, last)
        return column.in_(ids)

    return belongs


class IncidentReader:
    """Reads the incidents of a selection (a SELECT of Incident with its WHERE clauses) in batches."""

    def __init__(
        self,
        selection: sa.Select[Any],
        *,
        staff: bool,
        batch_size: int | None = None,
        connection: sa.Connection | None = None,
    ) -> None:
        self.selection = selection
        self._given_connection = connection
        self.staff = staff
        self.batch_size = batch_size or BATCH_SIZE
        self._sources: dict[int, dict[str, Any]] = {}
        self._users: dict[int, str] = {}
        columns = dict(_INCIDENT_COLUMNS, **(_STAFF_COLUMNS if staff else _PUBLIC_LOCATION))
        self._names = list(columns)
        self._columns = [column.label(name) for name, column in columns.items()]

    def batches(self, *, after_id: int = 0, limit: int | None = None) -> Iterator[list[IncidentRows]]:
        """Batches of incidents in ascending id order, starting after after_id, at most limit in all."""
        remaining = limit
        last_id = after_id
        while remaining is None or remaining > 0:
            size = self.batch_size if remaining is None else min(self.batch_size, remaining)
            query = (
                self.selection.with_only_columns(*self._columns)
                .where(Incident.id > last_id)
                .order_by(None)
                .order_by(Incident.id)
                .limit(size)
                .with_hint(Incident, "NOT INDEXED", dialect_name="sqlite")
            )
            rows = self._fetch(query)
            if not rows:
                return
            batch = [IncidentRows(dict(zip(self._names, row, strict=True))) for row in rows]
            self._relations(batch)
            yield batch
            last_id = batch[-1].columns["id"]
            if remaining is not None:
                remaining -= len(batch)
            if len(rows) < size:
                return

    def _fetch(self, query: sa.Select[Any] | Any) -> list[Any]:
        return fetch_raw(self._connection, query)

    @property
    def _connection(self) -> sa.Connection:
        # Core rows straight from the connection: the session's ORM layer costs more than the query.
        return self._given_connection or db.session.connection()

    def _relations(self, batch: list[IncidentRows]) -> None:
        """Each incident's types, citations (with their sources and claims) and estimates; for staff, the
        users who created and last changed it. One query per relation for the whole batch."""
        by_id = {incident.columns["id"]: incident for incident in batch}
        belongs = _belongs(list(by_id))
        self._add_types(batch, by_id, belongs)
        self._add_citations(by_id, belongs)
        self._add_estimates(by_id, belongs)
        if self.staff:
            self._load_users(batch)

    def _add_types(
        self, batch: list[IncidentRows], by_id: dict[int, IncidentRows], belongs: _Belongs
    ) -> None:
        types = (
            sa.select(incident_type_links.c.incident_id, IncidentType.slug, IncidentType.label)
            .join(IncidentType, IncidentType.id == incident_type_links.c.incident_type_id)
            .where(belongs(incident_type_links.c.incident_id))
        )
        for incident_id, slug, label in self._fetch(types):
            incident = by_id.get(incident_id)
            if incident is not None:
                incident.types.append((slug, label))
        for incident in batch:
            if len(incident.types) > 1:
                incident.types.sort(key=type_order)

    def _add_citations(self, by_id: dict[int, IncidentRows], belongs: _Belongs) -> None:
        """The citations in their order, each with its source and its claims."""
        execute = self._fetch
        claims: dict[int, list[tuple[str, int, int, str]]] = {}
        claim_query = (
            sa.select(
                CasualtyClaim.citation_id,
                _raw(CasualtyClaim.category),
                CasualtyClaim.low,
                CasualtyClaim.high,
                CasualtyClaim.group,
            )
            .join(Citation, Citation.id == CasualtyClaim.citation_id)
            .where(belongs(Citation.incident_id))
            .order_by(CasualtyClaim.id)
        )
        for citation_id, category, low, high, group in execute(claim_query):
            claims.setdefault(citation_id, []).append((category, low, high, group))

        citation_query = (
            sa.select(Citation.id, Citation.incident_id, Citation.source_id, Citation.locator, Citation.quote)
            .where(belongs(Citation.incident_id))
            .order_by(Citation.incident_id, Citation.position, Citation.id)
        )
        citations = [row for row in execute(citation_query) if row[1] in by_id]
        self._load_sources({row[2] for row in citations})
        sources = self._sources
        for citation_id, incident_id, source_id, locator, quote in citations:
            by_id[incident_id].citations.append(
                (locator, quote, sources[source_id], claims.get(citation_id, []))
            )

    def _add_estimates(self, by_id: dict[int, IncidentRows], belongs: _Belongs) -> None:
        estimates = sa.select(
            CasualtyEstimate.incident_id, _raw(CasualtyEstimate.category), CasualtyEstimate.best
        ).where(belongs(CasualtyEstimate.incident_id))
        for incident_id, category, best in self._fetch(estimates):
            incident = by_id.get(incident_id)
            if incident is not None:
                incident.estimates[category] = best

    def _load_sources(self, source_ids: set[int]) -> None:
        missing = [source_id for source_id in source_ids if source_id not in self._sources]
        if not missing:
            return
        if len(self._sources) + len(missing) > SOURCE_CACHE_LIMIT:
            self._sources.clear()
            missing = list(source_ids)
        names = list(SOURCE_COLUMNS)
        query = sa.select(*SOURCE_COLUMNS.values()).where(Source.id.in_(missing))
        for row in self._fetch(query):
            self._sources[row[0]] = source_record(dict(zip(names, row, strict=True)))

    def _load_users(self, batch: list[IncidentRows]) -> None:
        wanted = {
            user_id
            for incident in batch
            for user_id in (incident.columns["created_by_id"], incident.columns["updated_by_id"])
            if user_id is not None and user_id not in self._users
        }
        if wanted:
            query = sa.select(User.id, User.email).where(User.id.in_(wanted))
            self._users.update((user_id, email) for user_id, email in self._connection.execute(query).all())
        for incident in batch:
            incident.created_by = self._users.get(incident.columns["created_by_id"])
            incident.updated_by = self._users.get(incident.columns["updated_by_id"])

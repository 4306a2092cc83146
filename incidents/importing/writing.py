"""Writing validated records in bulk: Core inserts in the import's one transaction, not object by object.

The derived columns (casualty ranges, source count) are computed by the same function every save uses, and
the map's rollup is told of the new incidents, as an ORM save would tell it.
"""

from __future__ import annotations

import datetime as dt
import enum
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from incidents.domain import map_cells
from incidents.domain.incidents import SCALAR_FIELDS, range_columns
from incidents.exports import stored
from incidents.exports.records import SOURCE_COLUMNS, IncidentRows, type_order
from incidents.exports.serialize import canonical_json, incident_record, source_record
from incidents.importing.formats.base import SOURCE_FIELDS
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    Incident,
    IncidentType,
    Source,
    incident_type_links,
)
from incidents.vocabulary import PublicationStatus

INCIDENTS = cast(sa.Table, Incident.__table__)
SOURCES = cast(sa.Table, Source.__table__)
CITATIONS = cast(sa.Table, Citation.__table__)
CLAIMS = cast(sa.Table, CasualtyClaim.__table__)
ESTIMATES = cast(sa.Table, CasualtyEstimate.__table__)
TYPES = cast(sa.Table, IncidentType.__table__)

# Bind parameters per IN (…): well under SQLite's and PostgreSQL's limits.
_IN_CHUNK = 500
# When an import adds more than this many incidents, and at least this share of all there are, the map's
# rollup is rebuilt in SQL at the end rather than added to incident by incident (which is slower per row).
MAP_REBUILD_AFTER = 1000
MAP_REBUILD_SHARE = 0.2
_MAP_COLUMNS = ("status", "latitude", "longitude", *map_cells.CASUALTY_COLUMNS)

SourceKey = tuple[Any, ...]


_source_fields = operator.itemgetter(*SOURCE_FIELDS)
# Files cite the same few sources row after row: their keys are remembered, by their values as given.
_source_keys: dict[tuple[Any, ...], SourceKey] = {}
_SOURCE_KEYS_KEPT = 10_000


def source_key(source: dict[str, Any]) -> SourceKey:
    """Two sources are one when every field is the same, ignoring case and runs of spaces in text."""
    values = _source_fields(source) if len(source) == len(SOURCE_FIELDS) else None
    try:
        key = _source_keys.get(values) if values is not None else None
    except TypeError:  # an unhashable value: not remembered
        key = values = None
    if key is None:
        key = tuple(
            " ".join(value.split()).casefold() if isinstance(value, str) else value
            for value in (source.get(name) for name in SOURCE_FIELDS)
        )
        if values is not None:
            if len(_source_keys) >= _SOURCE_KEYS_KEPT:
                _source_keys.clear()
            _source_keys[values] = key
    return key


@dataclass(slots=True)
class Pending:
    """A record that passed validation, waiting to be written."""

    external_id: str
    loaded: dict[str, Any]
    location_method: str
    preferred_id: int | None = None  # kept when free (our own exports)
    source_ids: list[int] | None = None  # the file's id of each cited source (our own exports)
    keys: list[SourceKey] = field(default_factory=list)

    def __post_init__(self) -> None:
        # What tells this record's sources apart: the file's ids where it has them, their content if not.
        if self.source_ids is not None:
            self.keys = [("id", source_id) for source_id in self.source_ids]
        else:
            self.keys = [source_key(citation["source"]) for citation in self.loaded["citations"]]


# The incident's columns a record reads that hold enums (as the database gives them back: by value).
_ENUM_COLUMNS = ("date_precision", "location_precision", "verification_grade")


def _plain(value: Any) -> Any:
    """A value as the database gives it back: enums by their value."""
    return value._value_ if isinstance(value, enum.Enum) else value  # _value_: a plain attribute, fast


def _source_record(source_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return source_record({name: _plain(row.get(name)) for name in SOURCE_COLUMNS} | {"id": source_id})


class BulkWriter:
    """Writes batches of validated records; in a dry run it only reads, to count what it would write."""

    def __init__(
        self,
        connection: sa.Connection,
        *,
        dataset: str,
        status: PublicationStatus,
        user_id: int | None,
        type_ids: dict[str, int],
        dry_run: bool,
    ) -> None:
        self._connection = connection
        self._dataset = dataset
        self._status = status
        self._user_id = user_id
        self._type_ids = type_ids
        self._dry_run = dry_run
        self._sources: dict[SourceKey, int | None] = {}  # None: new, in a dry run
        # What each cited source looks like in an incident's record, as stored (exports.stored).
        self._source_records: dict[int, dict[str, Any]] = {}
        self._type_labels = dict(connection.execute(sa.select(TYPES.c.slug, TYPES.c.label)).all())
        self.sources_created = 0
        self._on_map: list[tuple[Any, ...]] = []  # what the map's rollup needs of each new incident
        self._new = 0
        self._stored = connection.scalar(sa.select(sa.func.count()).select_from(INCIDENTS)) or 0
        self._dataset_known = bool(
            connection.scalar(sa.select(sa.exists().where(INCIDENTS.c.external_source == dataset)))
        )

    @property
    def connection(self) -> sa.Connection:
        return self._connection

    def existing_ids(self, external_ids: Iterable[str]) -> set[str]:
        """The ids among external_ids that an incident of this data set has already."""
        if not self._dataset_known:
            # Nothing of this data set was stored when the import began, and the rows it adds are told
            # apart by the importer itself: no query. (On PostgreSQL these queries also grow with the rows
            # this transaction adds, whose statistics the planner does not have: quadratic in the import.)
            return set()
        wanted = list(dict.fromkeys(external_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            query = sa.select(INCIDENTS.c.external_id).where(
                INCIDENTS.c.external_source == self._dataset,
                self._among(INCIDENTS.c.external_id, wanted[start : start + _IN_CHUNK]),
            )
            found.update(self._connection.scalars(query))
        return found

    def _among(self, column: sa.Column[Any], values: list[Any]) -> sa.ColumnElement[bool]:
        """column IN values. On PostgreSQL as IN (SELECT unnest(one array)): its driver reads one parameter
        much faster than hundreds, and a semi-join stays fast when the statement is prepared with a generic
        plan (= ANY(array) would then compare each row with the whole array)."""
        if self._connection.dialect.name == "postgresql":
            array = sa.literal(values, postgresql.ARRAY(column.type))
            return column.in_(sa.select(sa.func.unnest(array)))
        return column.in_(values)

    def write(self, batch: list[Pending]) -> list[int]:
        """Insert the batch's sources, incidents, type links, citations, claims and estimates; their ids."""
        self._resolve_sources(batch)
        if self._dry_run or not batch:
            return []
        now = dt.datetime.now(dt.UTC)
        incident_rows = [self._incident_row(item, now) for item in batch]
        ids = self._insert(INCIDENTS, incident_rows, [item.preferred_id for item in batch])
        links, citations, estimates = [], [], []
        claims_per_citation: list[list[dict[str, Any]]] = []
        records: dict[int, bytes] = {}
        for incident_id, item, row in zip(ids, batch, incident_rows, strict=True):
            loaded = item.loaded
            slugs = list(dict.fromkeys(loaded["types"]))
            for slug in slugs:
                links.append({"incident_id": incident_id, "incident_type_id": self._type_ids[slug]})
            for position, citation in enumerate(loaded["citations"]):
                citations.append(
                    {
                        "incident_id": incident_id,
                        "source_id": self._sources[item.keys[position]],
                        "position": position,
                        "locator": citation["locator"],
                        "quote": citation["quote"],
                    }
                )
                claims_per_citation.append(citation["claims"])
            for estimate in loaded["estimates"]:
                estimates.append({"incident_id": incident_id, **estimate})
            records[incident_id] = self._record(incident_id, row, item, slugs)
        self._insert_rows(cast(sa.Table, incident_type_links), links)
        if citations:
            citation_ids = self._insert_returning_ids(CITATIONS, citations)
            claims = [
                {"citation_id": citation_id, **claim}
                for citation_id, claim_list in zip(citation_ids, claims_per_citation, strict=True)
                for claim in claim_list
            ]
            if claims:
                self._insert_rows(CLAIMS, claims)
        if estimates:
            self._insert_rows(ESTIMATES, estimates)
        # The incidents are new: their records are inserted, not upserted (exports.stored.store).
        self._insert_rows(
            stored.RECORDS,
            [
                {"incident_id": i, "layout": stored.LAYOUT, "content": content}
                for i, content in records.items()
            ],
        )
        self._new += len(ids)
        if not self._rebuilds_map:
            self._on_map.extend(tuple(row[name] for name in _MAP_COLUMNS) for row in incident_rows)
        else:
            self._on_map = []  # the rollup will be rebuilt: what it would need is not kept
        return ids

    @property
    def _rebuilds_map(self) -> bool:
        # Adding row by row costs per new incident; rebuilding in SQL costs per incident stored.
        return self._new > MAP_REBUILD_AFTER and self._new >= MAP_REBUILD_SHARE * (self._stored + self._new)

    def finish(self) -> None:
        """Tell the map's rollup (domain.map_cells) of the new incidents, as an ORM save would."""
        if self._rebuilds_map:
            map_cells.rebuild_map_cells(self._connection)
        elif self._on_map:
            rows = (dict(zip(_MAP_COLUMNS, values, strict=True)) for values in self._on_map)
            map_cells.add_incident_rows(self._connection, rows)
        self._on_map = []

    def _incident_row(self, item: Pending, now: dt.datetime) -> dict[str, Any]:
        loaded = item.loaded
        row = {name: loaded[name] for name in SCALAR_FIELDS}
        if row["latitude"] is not None:
            # -0.0 is 0.0: SQLite would store it so, and the record built here must be what is stored.
            row["latitude"] += 0.0
            row["longitude"] += 0.0
        row.update(range_columns(loaded["citations"]))
        row.update(
            status=self._status,
            location_method=item.location_method,
            source_count=len(set(item.keys)),
            external_source=self._dataset,
            external_id=item.external_id,
            created_at=now,
            updated_at=now,
            created_by_id=self._user_id,
            updated_by_id=self._user_id,
            version=1,
        )
        return row

    def _record(self, incident_id: int, row: dict[str, Any], item: Pending, slugs: list[str]) -> bytes:
        """The incident's stored record, built from the values just written by the code every save uses
        (exports.stored; tests compare it with a record built from the database after every import)."""
        columns = dict(row, id=incident_id)
        for name in _ENUM_COLUMNS:
            columns[name] = _plain(columns[name])
        incident = IncidentRows(columns)
        incident.types = sorted(((slug, self._type_labels[slug]) for slug in slugs), key=type_order)
        for key, citation in zip(item.keys, item.loaded["citations"], strict=True):
            source_id = self._sources[key]
            assert source_id is not None
            claims = [(_plain(c["category"]), c["low"], c["high"]) for c in citation["claims"]]
            incident.citations.append(
                (citation["locator"], citation["quote"], self._source_records[source_id], claims)
            )
        incident.estimates = {_plain(e["category"]): e["best"] for e in item.loaded["estimates"]}
        return canonical_json(incident_record(incident, staff=False))

    def _resolve_sources(self, batch: list[Pending]) -> None:
        """An id for every source the batch cites: one already known, one in the database, or a new one."""
        new: dict[SourceKey, dict[str, Any]] = {}
        for item in batch:
            for key, citation in zip(item.keys, item.loaded["citations"], strict=True):
                if key not in self._sources:
                    new.setdefault(key, citation["source"])
        if not new:
            return
        self._find_stored_sources(new)
        self.sources_created += len(new)
        if self._dry_run:
            self._sources.update(dict.fromkeys(new))
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            {name: source.get(name) for name in SOURCE_FIELDS}
            | {"created_at": now, "created_by_id": self._user_id}
            for source in new.values()
        ]
        preferred = [key[1] if key[0] == "id" else None for key in new]
        source_ids = self._insert(SOURCES, rows, preferred)
        self._sources.update(zip(new, source_ids, strict=True))
        for source_id, row in zip(source_ids, rows, strict=True):
            self._source_records[source_id] = _source_record(source_id, row)

    def _find_stored_sources(self, new: dict[SourceKey, dict[str, Any]]) -> None:
        """Move the sources the database has already from new to the known ones.

        A source known by content is looked up by its title; one known by the file's id is the stored source
        of that id when their content is the same (the file was imported here before).
        """
        by_title = [source["title"] for key, source in new.items() if key[0] != "id"]
        by_id = [key[1] for key in new if key[0] == "id"]
        for column, values in ((SOURCES.c.title, list(set(by_title))), (SOURCES.c.id, by_id)):
            for start in range(0, len(values), _IN_CHUNK):
                query = sa.select(SOURCES).where(self._among(column, values[start : start + _IN_CHUNK]))
                for row in self._connection.execute(query).mappings():
                    stored = source_key(dict(row))
                    key = ("id", row["id"]) if column is SOURCES.c.id else stored
                    if key in new and source_key(new[key]) == stored:
                        self._sources[key] = row["id"]
                        self._source_records[row["id"]] = _source_record(row["id"], dict(row))
                        del new[key]

    def _insert(self, table: sa.Table, rows: list[dict[str, Any]], preferred: list[int | None]) -> list[int]:
        """Insert rows; their ids in order. A preferred id is kept when no row of the table has it."""
        wanted = [i for i in preferred if i is not None]
        taken: set[int] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            taken.update(
                self._connection.scalars(sa.select(table.c.id).where(self._among(table.c.id, chunk)))
            )
        kept = [
            row | {"id": wish}
            for row, wish in zip(rows, preferred, strict=True)
            if wish is not None and wish not in taken
        ]
        if kept:
            self._insert_rows(table, kept)
            if self._connection.dialect.name == "postgresql":
                # Ids given by hand do not move the sequence: move it past them, or the next save collides.
                self._connection.execute(
                    sa.select(
                        sa.func.setval(
                            sa.func.pg_get_serial_sequence(table.name, "id"),
                            sa.select(sa.func.max(table.c.id)).scalar_subquery(),
                        )
                    )
                )
        fresh = [row for row, wish in zip(rows, preferred, strict=True) if wish is None or wish in taken]
        fresh_ids = iter(self._insert_returning_ids(table, fresh))
        return [wish if wish is not None and wish not in taken else next(fresh_ids) for wish in preferred]

    def _insert_rows(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows (all with the same keys): one executemany, or on PostgreSQL one COPY, which takes
        rows an order of magnitude faster than the driver takes a statement with thousands of parameters.
        """
        if not rows:
            return
        if self._connection.dialect.name == "sqlite":
            self._sqlite_executemany(table, rows)
            return
        if self._connection.dialect.name != "postgresql":
            self._connection.execute(sa.insert(table), rows)
            return
        from psycopg import sql as pg_sql  # only on PostgreSQL; SQLite deployments need not load it

        columns = list(rows[0])
        statement = pg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            pg_sql.Identifier(table.name), pg_sql.SQL(", ").join(map(pg_sql.Identifier, columns))
        )
        driver = self._connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                # Enums by value, as the models store them (the driver would write their names).
                copy.write_row(
                    [v.value if isinstance(v, enum.Enum) else v for v in map(row.__getitem__, columns)]
                )

    def _sqlite_executemany(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """The rows as tuples, straight to the driver's executemany, each value through the bind processor
        SQLAlchemy itself would apply to its column (dates and timestamps as text, enums by value): the same
        stored values, without SQLAlchemy's per-row bookkeeping (which costs more than SQLite's insert)."""
        columns = list(rows[0])
        if any(c.default is not None and c.name not in rows[0] for c in table.columns):
            # A Python-side default to fill in: SQLAlchemy's own executemany does that.
            self._connection.execute(sa.insert(table), rows)
            return
        dialect = self._connection.dialect
        quote = dialect.identifier_preparer.quote
        statement = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(table.name), ", ".join(map(quote, columns)), ", ".join("?" * len(columns))
        )
        processors = [
            (i, processor)
            for i, name in enumerate(columns)
            if (processor := table.c[name].type._cached_bind_processor(dialect)) is not None
        ]
        # One column: itemgetter gives the value itself, not a tuple of one.
        getter = operator.itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
        values = [list(getter(row)) for row in rows]
        for i, processor in processors:
            for row_values in values:
                row_values[i] = processor(row_values[i])
        driver = self._connection.connection.driver_connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            cursor.executemany(statement, values)
        finally:
            cursor.close()

    def _insert_returning_ids(self, table: sa.Table, rows: list[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        if self._connection.dialect.name == "postgresql":
            # Ids from the table's sequence, then a plain insert: INSERT … RETURNING in order is slow there.
            sequence = sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))
            ids = list(
                self._connection.scalars(
                    sa.select(sequence).select_from(sa.func.generate_series(1, len(rows)))
                )
            )
            self._insert_rows(table, [row | {"id": i} for row, i in zip(rows, ids, strict=True)])
            return ids
        if self._connection.dialect.name != "sqlite":
            insert = sa.insert(table).returning(table.c.id, sort_by_parameter_order=True)
            return list(self._connection.scalars(insert, rows))
        # SQLite returns ids in order only row by row. But once this transaction has written, no other
        # connection may write until it commits, and SQLite numbers a new row one past the largest id: so
        # the first row's id says every other's, and the rest go in as one batch.
        first = self._connection.scalar(sa.insert(table).returning(table.c.id), rows[0])
        assert first is not None
        ids = list(range(first, first + len(rows)))
        if len(rows) > 1:
            self._insert_rows(table, [row | {"id": i} for row, i in zip(rows[1:], ids[1:], strict=True)])
        return ids

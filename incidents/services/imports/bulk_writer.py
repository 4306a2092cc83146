"""Writing validated records in bulk: Core inserts in the import's one transaction, not object by object.

The derived data of the new incidents (incidents.derived) is computed from the values inserted, by the
functions a save's refresh uses, rather than read back: the range columns (derived.ranges.columns) go into
the incident rows, each stored record (the serializer exports.stored.build uses) is inserted beside them, and
the map's rollup is told of the new incidents at the end (derived.map_cells), or rebuilt when they are many.
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

from incidents.derived import map_cells, ranges
from incidents.domain.map_grid import MAP_VALUES
from incidents.exports import stored
from incidents.exports.reader import SOURCE_COLUMNS, IncidentRows, type_order
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
from incidents.schemas.incident import SCALAR_FIELDS
from incidents.services.imports.behind import WriteBehind
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
_MAP_COLUMNS = MAP_VALUES

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
    status: str | None = None  # a staff export's own status (see status_for)
    digest: str | None = None  # of the record as read (incidents.external_digest)
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


def status_for(in_file: str | None, chosen: PublicationStatus) -> PublicationStatus:
    """An imported incident's status: the one chosen (draft, or published with --publish), except that an
    incident a staff export has as a draft stays a draft (nobody published it where it comes from) and one
    retracted stays retracted (a retraction is not undone by moving the data)."""
    if in_file == PublicationStatus.RETRACTED:
        return PublicationStatus.RETRACTED
    if in_file == PublicationStatus.DRAFT:
        return PublicationStatus.DRAFT
    return chosen


def _source_record(source_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return source_record({name: _plain(row.get(name)) for name in SOURCE_COLUMNS} | {"id": source_id})


class BulkWriter:
    """Writes batches of validated records; in a dry run it only reads, to count what it would write.

    `write` first reads what it must (sources, ids), then builds every row and queues the inserts. On
    PostgreSQL they run behind (services.imports.behind), while the next batch is read and checked; every read
    of the connection first waits for the writes queued before it. Call `close` at the end.
    """

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
        self._sqlite = connection.dialect.name == "sqlite"
        # Two batches queued at most (a batch is seven inserts): enough to keep the server busy, and the
        # rows waiting are held in memory.
        self._behind = WriteBehind(threaded=not self._sqlite, limit=14)
        # On SQLite, the next free id of each table written: counted here rather than asked of the database
        # (ids are known before the rows are built, and a batch's citations before its incidents are in).
        self._next_ids: dict[str, int] = {}
        # Where sources are looked up by title, ids drawn and stored incidents read for duplicate finding: on
        # PostgreSQL a connection of its own, which need not wait for the writes queued. It sees what other
        # transactions committed, as the import's own connection does (read committed); it does not see
        # what this import adds, and needs not: the import keeps its own sources and rows in memory.
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
        self._types: dict[str, dict[str, int]] = {}  # PostgreSQL: see _column_types
        # Opened last: nothing above may fail and leave it open.
        self._lookup = connection if self._sqlite or dry_run else connection.engine.connect()

    @property
    def connection(self) -> sa.Connection:
        """The import's connection, once every write queued so far is done."""
        self._behind.wait()
        return self._connection

    @property
    def lookup(self) -> sa.Connection:
        """A connection to read what other transactions committed, without waiting for the writes queued:
        on PostgreSQL one of its own (it does not see this import's rows), on SQLite the import's."""
        return self._lookup

    def close(self) -> None:
        """Stop the writing thread, after the writes queued (or at once after a failed one). The transaction
        is left to the caller, to commit or roll back."""
        try:
            self._behind.close()
        finally:
            if self._lookup is not self._connection:
                self._lookup.close()

    def existing(self, external_ids: Iterable[str]) -> dict[str, tuple[int, str | None]]:
        """The ids among external_ids that an incident of this data set has already (one committed: the rows
        this import adds are told apart by the importer itself), with that incident's id and the digest of
        the record it was imported from. Read on the lookup connection, which need not wait for the writes
        queued: a new release of a known data set mixes known and new rows."""
        if not self._dataset_known:
            # Nothing of this data set was stored when the import began, and the rows it adds are told
            # apart by the importer itself: no query. (On PostgreSQL these queries also grow with the rows
            # this transaction adds, whose statistics the planner does not have: quadratic in the import.)
            return {}
        wanted = list(dict.fromkeys(external_ids))
        found: dict[str, tuple[int, str | None]] = {}
        for start in range(0, len(wanted), _IN_CHUNK):
            query = sa.select(INCIDENTS.c.external_id, INCIDENTS.c.id, INCIDENTS.c.external_digest).where(
                INCIDENTS.c.external_source == self._dataset,
                self._among(INCIDENTS.c.external_id, wanted[start : start + _IN_CHUNK]),
            )
            found.update(
                (external_id, (key, digest)) for external_id, key, digest in self._lookup.execute(query)
            )
        return found

    def _among(self, column: sa.ColumnElement[Any], values: list[Any]) -> sa.ColumnElement[bool]:
        """column IN values. On PostgreSQL as IN (SELECT unnest(one array)): its driver reads one parameter
        much faster than hundreds, and a semi-join stays fast when the statement is prepared with a generic
        plan (= ANY(array) would then compare each row with the whole array)."""
        if self._connection.dialect.name == "postgresql":
            array = sa.literal(values, postgresql.ARRAY(column.type))
            return column.in_(sa.select(sa.func.unnest(array)))
        return column.in_(values)

    def write(self, batch: list[Pending]) -> list[int]:
        """Insert the batch's sources, incidents, type links, citations, claims, estimates and stored
        records; return the incidents' ids. What is read (sources, ids) is read first, then the rows are
        queued: on PostgreSQL a read after a queued insert would wait for it."""
        self._resolve_sources(batch)
        if self._dry_run or not batch:
            return []
        now = dt.datetime.now(dt.UTC)
        incident_rows = [self._incident_row(item, now) for item in batch]
        ids = self._allocate(INCIDENTS, [item.preferred_id for item in batch])
        citation_ids = iter(self._fresh_ids(CITATIONS, sum(len(item.loaded["citations"]) for item in batch)))
        links: list[dict[str, Any]] = []
        citations: list[dict[str, Any]] = []
        claims: list[dict[str, Any]] = []
        estimates: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        for incident_id, item, row in zip(ids, batch, incident_rows, strict=True):
            row["id"] = incident_id
            loaded = item.loaded
            slugs = list(dict.fromkeys(loaded["types"]))
            for slug in slugs:
                links.append({"incident_id": incident_id, "incident_type_id": self._type_ids[slug]})
            for position, citation in enumerate(loaded["citations"]):
                citation_id = next(citation_ids)
                citations.append(
                    {
                        "id": citation_id,
                        "incident_id": incident_id,
                        "source_id": self._sources[item.keys[position]],
                        "position": position,
                        "locator": citation["locator"],
                        "quote": citation["quote"],
                    }
                )
                claims.extend({"citation_id": citation_id, **claim} for claim in citation["claims"])
            for estimate in loaded["estimates"]:
                estimates.append({"incident_id": incident_id, **estimate})
            # The incidents are new: their records are inserted, not upserted (exports.stored.store).
            records.append(
                {
                    "incident_id": incident_id,
                    "layout": stored.LAYOUT,
                    "content": self._record(incident_id, row, item, slugs),
                }
            )
        for table, rows in (
            (INCIDENTS, incident_rows),
            (cast(sa.Table, incident_type_links), links),
            (CITATIONS, citations),
            (CLAIMS, claims),
            (ESTIMATES, estimates),
            (stored.RECORDS, records),
        ):
            self._insert_rows(table, rows)
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
        """Tell the map's rollup (derived.map_cells) of the new incidents, as a save's refresh would."""
        if self._rebuilds_map:
            map_cells.rebuild(self.connection)
        elif self._on_map:
            rows = (dict(zip(_MAP_COLUMNS, values, strict=True)) for values in self._on_map)
            map_cells.add_rows(self.connection, rows)
        self._on_map = []

    def _incident_row(self, item: Pending, now: dt.datetime) -> dict[str, Any]:
        loaded = item.loaded
        row = {name: loaded[name] for name in SCALAR_FIELDS}
        if row["latitude"] is not None:
            # -0.0 is 0.0: SQLite would store it so, and the record built here must be what is stored.
            row["latitude"] += 0.0
            row["longitude"] += 0.0
        row.update(ranges.columns(loaded["citations"]))
        row.update(
            status=status_for(item.status, self._status),
            location_method=item.location_method,
            source_count=len(set(item.keys)),
            external_source=self._dataset,
            external_id=item.external_id,
            external_digest=item.digest,
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
            if source_id is None:  # only a dry run leaves sources without ids
                raise RuntimeError(f"The source {key!r} has no id: a dry run writes no records.")
            claims = [(_plain(c["category"]), c["low"], c["high"], c["group"]) for c in citation["claims"]]
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
        source_ids = self._allocate(SOURCES, preferred)
        self._insert_rows(
            SOURCES, [row | {"id": source_id} for row, source_id in zip(rows, source_ids, strict=True)]
        )
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
            if not values:
                continue
            # By id on the import's connection: the ids this import gave are taken too.
            connection = self._lookup if column is SOURCES.c.title else self.connection
            for start in range(0, len(values), _IN_CHUNK):
                chunk = values[start : start + _IN_CHUNK]
                found = self._among(column, chunk)
                if column is SOURCES.c.title:
                    # Sources are one whatever the case and the runs of spaces (source_key): a stored title
                    # in other capitals is found too. Only as far as SQL's lower() goes: ASCII on SQLite, all
                    # letters on PostgreSQL; a stored title with runs of spaces is found only as it is. The
                    # keys are compared below.
                    lowered = list({" ".join(title.split()).lower() for title in chunk})
                    found = sa.or_(found, self._among(sa.func.lower(column, type_=column.type), lowered))
                query = sa.select(SOURCES).where(found)
                for row in connection.execute(query).mappings():
                    stored = source_key(dict(row))
                    key = ("id", row["id"]) if column is SOURCES.c.id else stored
                    if key in new and source_key(new[key]) == stored:
                        self._sources[key] = row["id"]
                        self._source_records[row["id"]] = _source_record(row["id"], dict(row))
                        del new[key]

    def _allocate(self, table: sa.Table, preferred: list[int | None]) -> list[int]:
        """An id for each new row of table, in order: its preferred id when no row has it, a fresh one if not.

        Only reads: the rows are inserted after, with these ids."""
        wanted = [i for i in preferred if i is not None]
        taken: set[int] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            taken.update(self.connection.scalars(sa.select(table.c.id).where(self._among(table.c.id, chunk))))
        kept = [wish for wish in wanted if wish not in taken]
        if kept and not self._sqlite:
            # Ids given by hand do not move the sequence: move it past them (never back), or the next save
            # takes one of them.
            sequence = sa.func.pg_get_serial_sequence(table.name, "id")
            self.connection.execute(
                sa.select(
                    sa.func.setval(
                        sequence,
                        sa.func.greatest(
                            max(kept),
                            sa.select(sa.func.max(table.c.id)).scalar_subquery(),
                            sa.func.pg_sequence_last_value(sa.cast(sequence, postgresql.REGCLASS)),
                        ),
                    )
                )
            )
        fresh = iter(self._fresh_ids(table, len(preferred) - len(kept), after=max(kept, default=0)))
        return [wish if wish is not None and wish not in taken else next(fresh) for wish in preferred]

    def _fresh_ids(self, table: sa.Table, count: int, *, after: int = 0) -> list[int]:
        """count ids that no row has, all above `after` (the largest id kept), for rows this import inserts.
        On SQLite the count moves past `after` even when no id is wanted: the ids kept are taken."""
        if not self._sqlite:
            if not count:
                return []
            # From the table's sequence (INSERT … RETURNING in order is slow on PostgreSQL), on the lookup
            # connection: a sequence gives each value once, whatever the session and the transaction.
            sequence = sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))
            series = sa.func.generate_series(1, count)
            return list(self._lookup.scalars(sa.select(sequence).select_from(series)))
        first = self._next_ids.get(table.name)
        if first is None:
            if not count:
                return []  # the ids kept are inserted before the count starts from the largest
            # SQLite: once this transaction holds the write lock no other connection adds rows until it
            # ends, and the ids past the largest are free. Taken here, before the count starts (a write
            # that changes nothing; again for each table, which costs nothing), not when the import
            # begins: reading and checking the first rows, which may geocode over the network, does not
            # keep others from saving.
            self.connection.execute(sa.text("DELETE FROM incidents WHERE 0"))
            first = (self.connection.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1
        first = max(first, after + 1)
        self._next_ids[table.name] = first + count
        return list(range(first, first + count))

    def _insert_rows(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows (all with the same keys, none changed after): one executemany, or on PostgreSQL one
        COPY, which takes rows an order of magnitude faster than the driver takes a statement with
        thousands of parameters. On PostgreSQL the COPY is queued, to run behind."""
        if not rows:
            return
        columns = list(rows[0])
        if any(c.default is not None and c.name not in columns for c in table.columns):
            # A Python-side default to fill in: SQLAlchemy's own executemany does that (not behind).
            self.connection.execute(sa.insert(table), rows)
            return
        driver = self._connection.connection.driver_connection
        if driver is None:
            raise RuntimeError("The import's connection was closed before its rows were written.")
        if self._sqlite:
            insert, values = self._sqlite_values(table, columns, rows)
            self._behind.submit(lambda: _sqlite_executemany(driver, insert, values))
            return
        from psycopg import sql as pg_sql  # only on PostgreSQL; SQLite deployments need not load it

        copy = pg_sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            pg_sql.Identifier(table.name), pg_sql.SQL(", ").join(map(pg_sql.Identifier, columns))
        )
        types = self._column_types(table)
        self._behind.submit(lambda: _copy(driver, copy, [types[name] for name in columns], columns, rows))

    def _column_types(self, table: sa.Table) -> dict[str, int]:
        """PostgreSQL: the type (oid) of each of the table's columns, as the database has them, for a binary
        COPY: values go in as the server stores them, with no text to write and parse (a stored record's
        bytes, for one, would go as hex text, twice their size)."""
        types = self._types.get(table.name)
        if types is None:
            types = self._types[table.name] = column_types(self._lookup, table.name)
        return types

    def _sqlite_values(
        self, table: sa.Table, columns: list[str], rows: list[dict[str, Any]]
    ) -> tuple[str, list[list[Any]]]:
        """The statement, and the rows as lists for the driver's executemany, each value through the bind
        processor SQLAlchemy itself would apply to its column (dates and timestamps as text, enums by value):
        the same stored values, without SQLAlchemy's per-row bookkeeping (which costs more than SQLite's
        insert)."""
        dialect = self._connection.dialect
        quote = dialect.identifier_preparer.quote
        statement = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - quoted names of our own table
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
        return statement, values


def column_types(connection: sa.Connection, table: str) -> dict[str, int]:
    """PostgreSQL: the type oid of each column of the table, by name, as the database has them."""
    query = sa.text(
        "SELECT attname, atttypid::int FROM pg_attribute"
        " WHERE attrelid = CAST(:table AS regclass) AND attnum > 0 AND NOT attisdropped"
    )
    return dict(connection.execute(query, {"table": table}).all())


# The writes themselves (run behind on PostgreSQL): the driver's own calls, nothing of SQLAlchemy's.


def _sqlite_executemany(driver: Any, statement: str, values: list[list[Any]]) -> None:
    cursor = driver.cursor()
    try:
        cursor.executemany(statement, values)
    finally:
        cursor.close()


def _copy(
    driver: Any, statement: Any, types: list[int], columns: list[str], rows: list[dict[str, Any]]
) -> None:
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            # Enums by value, as the models store them (the driver would write their names).
            copy.write_row(
                [v.value if isinstance(v, enum.Enum) else v for v in map(row.__getitem__, columns)]
            )

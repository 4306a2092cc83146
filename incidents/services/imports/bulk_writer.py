"""Writing validated records in bulk: Core inserts in the import's one transaction, not object by object.

The derived data of the new incidents (incidents.derived) is computed from the values inserted, by the
functions a save's refresh uses, rather than read back: the range columns (derived.ranges.columns) and the
public location (derived.public_locations.computed_one) go into the incident rows, each stored record (the
serializer exports.stored.build uses) is inserted beside them, and the map's rollup is told of the new
incidents at the end (derived.map_cells), or rebuilt when they are many.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from incidents.derived import map_cells, public_locations, ranges, stored_records
from incidents.domain.map_grid import MAP_VALUES
from incidents.exports import stored
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    Incident,
    IncidentType,
    incident_type_links,
)
from incidents.schemas.incident import SCALAR_FIELDS
from incidents.services.imports import staging
from incidents.services.imports.connections import IN_CHUNK, ImportConnections
from incidents.services.imports.ids import IdAllocator
from incidents.services.imports.inserts import RowInserter
from incidents.services.imports.pending import ENUM_COLUMNS, Pending, plain, status_for
from incidents.services.imports.sources import SOURCES, SourceIds
from incidents.vocabulary import PublicationStatus

INCIDENTS = cast(sa.Table, Incident.__table__)
CITATIONS = cast(sa.Table, Citation.__table__)
CLAIMS = cast(sa.Table, CasualtyClaim.__table__)
ESTIMATES = cast(sa.Table, CasualtyEstimate.__table__)
TYPES = cast(sa.Table, IncidentType.__table__)
LINKS = cast(sa.Table, incident_type_links)

# When an import adds more than this many incidents, and at least this share of all there are, the map's
# rollup is rebuilt in SQL at the end rather than added to incident by incident (which is slower per row).
MAP_REBUILD_AFTER = 1000
MAP_REBUILD_SHARE = 0.2


class BulkWriter:
    """Writes batches of validated records; in a dry run it only reads, to count what it would write.

    `write` first reads what it must (sources, ids), then builds every row and queues the inserts, which on
    PostgreSQL run behind (services.imports.connections). Call `close` at the end.
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
        self._dataset = dataset
        self._status = status
        self._user_id = user_id
        self._type_ids = type_ids
        self._dry_run = dry_run
        self._type_labels = dict(connection.execute(sa.select(TYPES.c.slug, TYPES.c.label)).all())
        self._grid = public_locations.configured_grid()
        self._rules = public_locations.rules(connection, self._grid)
        self._on_map: dict[int, tuple[Any, ...]] = {}  # what the map's rollup needs of each new incident
        self._new = 0
        self._stored = connection.scalar(sa.select(sa.func.count()).select_from(INCIDENTS)) or 0
        self._dataset_known = bool(
            connection.scalar(sa.select(sa.exists().where(INCIDENTS.c.external_source == dataset)))
        )
        self._connections = ImportConnections(connection, dry_run=dry_run)
        self._connections.stage = staging.stage_for(
            connection,
            [SOURCES, INCIDENTS, LINKS, CITATIONS, CLAIMS, ESTIMATES, stored.RECORDS],
            unnumbered={CLAIMS, ESTIMATES},
            dry_run=dry_run,
        )
        self._ids = IdAllocator(self._connections)
        self._inserter = RowInserter(self._connections)
        self._sources = SourceIds(
            self._connections, self._ids, self._inserter, user_id=user_id, dry_run=dry_run
        )

    @property
    def connection(self) -> sa.Connection:
        """The import's connection, once every write queued so far is done."""
        return self._connections.main

    @property
    def lookup(self) -> sa.Connection:
        """A connection to read what other transactions committed, without waiting for the writes queued."""
        return self._connections.lookup

    @property
    def sources_created(self) -> int:
        return self._sources.created

    def close(self) -> None:
        """Stop the writing thread, after the writes queued (or at once after a failed one). The transaction
        is left to the caller, to commit or roll back."""
        self._connections.close()

    def land(self) -> None:
        """SQLite: move the staged rows into the database, in the transaction the import then commits
        (services.imports.staging). Before the map's rollup, the flags and the review holds, which read and
        change the rows in the database."""
        if self._connections.stage is not None:
            self._connections.stage.move()

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
        for start in range(0, len(wanted), IN_CHUNK):
            query = sa.select(INCIDENTS.c.external_id, INCIDENTS.c.id, INCIDENTS.c.external_digest).where(
                INCIDENTS.c.external_source == self._dataset,
                self._connections.among(INCIDENTS.c.external_id, wanted[start : start + IN_CHUNK]),
            )
            found.update(
                (external_id, (key, digest))
                for external_id, key, digest in self._connections.lookup.execute(query)
            )
        return found

    def write(self, batch: list[Pending]) -> list[int]:
        """Insert the batch's sources, incidents, type links, citations, claims, estimates and stored
        records; return the incidents' ids. What is read (sources, ids) is read first, then the rows are
        queued: on PostgreSQL a read after a queued insert would wait for it."""
        self._sources.resolve(batch)
        if self._dry_run or not batch:
            return []
        now = dt.datetime.now(dt.UTC)
        incident_rows = [self._incident_row(item, now) for item in batch]
        ids = self._ids.allocate(INCIDENTS, [item.preferred_id for item in batch])
        public_ids = self._ids.public_ids(INCIDENTS, [item.preferred_public_id for item in batch])
        citation_ids = iter(self._ids.fresh(CITATIONS, sum(len(item.loaded["citations"]) for item in batch)))
        sources = self._sources.ids
        links: list[dict[str, Any]] = []
        citations: list[dict[str, Any]] = []
        claims: list[dict[str, Any]] = []
        estimates: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        for incident_id, public_id, item, row in zip(ids, public_ids, batch, incident_rows, strict=True):
            row["id"] = incident_id
            row["public_id"] = public_id
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
                        "source_id": sources[item.keys[position]],
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
            (LINKS, links),
            (CITATIONS, citations),
            (CLAIMS, claims),
            (ESTIMATES, estimates),
            (stored.RECORDS, records),
        ):
            self._inserter.insert(table, rows)
        self._new += len(ids)
        if self._connections.stage is not None:
            self._connections.stage.commit()
        if not self._rebuilds_map:
            self._on_map.update((row["id"], tuple(row[name] for name in MAP_VALUES)) for row in incident_rows)
        else:
            self._on_map = {}  # the rollup will be rebuilt: what it would need is not kept
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
            rows = (dict(zip(MAP_VALUES, values, strict=True)) for values in self._on_map.values())
            map_cells.add_rows(self.connection, rows)
        self._on_map = {}

    def hold_for_review(self, incident_ids: list[int]) -> None:
        """Put these new incidents in review instead of the status they were written with (before finish)."""
        status = MAP_VALUES.index("status")
        for start in range(0, len(incident_ids), IN_CHUNK):
            chunk = incident_ids[start : start + IN_CHUNK]
            self.connection.execute(
                sa.update(INCIDENTS)
                .where(self._connections.among(INCIDENTS.c.id, chunk))
                .values(status=PublicationStatus.IN_REVIEW)
            )
            for incident_id in chunk:
                values = self._on_map.get(incident_id)
                if values is not None:
                    self._on_map[incident_id] = (
                        *values[:status],
                        PublicationStatus.IN_REVIEW,
                        *values[status + 1 :],
                    )

    def _incident_row(self, item: Pending, now: dt.datetime) -> dict[str, Any]:
        loaded = item.loaded
        row = {name: loaded[name] for name in SCALAR_FIELDS}
        if row["latitude"] is not None:
            # -0.0 is 0.0: SQLite would store it so, and the record built here must be what is stored.
            row["latitude"] += 0.0
            row["longitude"] += 0.0
        row.update(ranges.columns(loaded["citations"]))
        row.update(
            public_locations.computed_one(
                {name: plain(row[name]) for name in public_locations.INPUTS},
                (source_id for key in item.keys if (source_id := self._sources.ids[key]) is not None),
                (self._type_ids[slug] for slug in loaded["types"]),
                self._rules,
                self._grid,
            )
        )
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
        """The incident's stored record, built from the values just written (not read back), by the
        serializer every save's refresh uses (derived.stored_records.from_values)."""
        columns = dict(row, id=incident_id)
        for name in ENUM_COLUMNS:
            columns[name] = plain(columns[name])
        citations = []
        for key, citation in zip(item.keys, item.loaded["citations"], strict=True):
            source_id = self._sources.ids[key]
            if source_id is None:  # only a dry run leaves sources without ids
                raise RuntimeError(f"The source {key!r} has no id: a dry run writes no records.")
            claims = [(plain(c["category"]), c["low"], c["high"], c["group"]) for c in citation["claims"]]
            citations.append(
                (citation["locator"], citation["quote"], self._sources.records[source_id], claims)
            )
        return stored_records.from_values(
            columns,
            [(slug, self._type_labels[slug]) for slug in slugs],
            citations,
            {plain(e["category"]): e["best"] for e in item.loaded["estimates"]},
        )

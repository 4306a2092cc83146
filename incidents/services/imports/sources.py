"""An id for every source an import cites: one this import met already, one the database has, or a new one.

Sources are told apart by content (source_key: every field the same, whatever the case and runs of spaces in
text), or, in our own export, by the file's id for them (kept when free).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import sqlalchemy as sa

from incidents.exports.reader import SOURCE_COLUMNS
from incidents.exports.serialize import source_record
from incidents.importing.formats.base import SOURCE_FIELDS
from incidents.models import Source
from incidents.services.imports.connections import IN_CHUNK, ImportConnections
from incidents.services.imports.ids import IdAllocator
from incidents.services.imports.inserts import RowInserter
from incidents.services.imports.pending import Pending, SourceKey, plain, source_key

SOURCES = cast(sa.Table, Source.__table__)


def _source_record(source_id: int, row: dict[str, Any]) -> dict[str, Any]:
    return source_record({name: plain(row.get(name)) for name in SOURCE_COLUMNS} | {"id": source_id})


class SourceIds:
    """The import's sources: `ids` by key (None for a new one in a dry run), and `records`, each as an
    incident's record shows it, by id."""

    def __init__(
        self,
        connections: ImportConnections,
        ids: IdAllocator,
        inserter: RowInserter,
        *,
        user_id: int | None,
        dry_run: bool,
    ) -> None:
        self._connections = connections
        self._allocator = ids
        self._inserter = inserter
        self._user_id = user_id
        self._dry_run = dry_run
        self.ids: dict[SourceKey, int | None] = {}
        self.records: dict[int, dict[str, Any]] = {}
        self.created = 0

    def resolve(self, batch: list[Pending]) -> None:
        """An id for every source the batch cites: one already known, one in the database, or a new one."""
        new: dict[SourceKey, dict[str, Any]] = {}
        for item in batch:
            for key, citation in zip(item.keys, item.loaded["citations"], strict=True):
                if key not in self.ids:
                    new.setdefault(key, citation["source"])
        if not new:
            return
        self._find_stored(new)
        self.created += len(new)
        if self._dry_run:
            self.ids.update(dict.fromkeys(new))
            return
        now = dt.datetime.now(dt.UTC)
        rows = [
            {name: source.get(name) for name in SOURCE_FIELDS}
            | {"created_at": now, "created_by_id": self._user_id}
            for source in new.values()
        ]
        preferred = [key[1] if key[0] == "id" else None for key in new]
        source_ids = self._allocator.allocate(SOURCES, preferred)
        self._inserter.insert(
            SOURCES, [row | {"id": source_id} for row, source_id in zip(rows, source_ids, strict=True)]
        )
        self.ids.update(zip(new, source_ids, strict=True))
        for source_id, row in zip(source_ids, rows, strict=True):
            self.records[source_id] = _source_record(source_id, row)

    def _find_stored(self, new: dict[SourceKey, dict[str, Any]]) -> None:
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
            connection = self._connections.lookup if column is SOURCES.c.title else self._connections.main
            for start in range(0, len(values), IN_CHUNK):
                chunk = values[start : start + IN_CHUNK]
                found = self._connections.among(column, chunk)
                if column is SOURCES.c.title:
                    # Sources are one whatever the case and the runs of spaces (source_key): a stored title
                    # in other capitals is found too. Only as far as SQL's lower() goes: ASCII on SQLite, all
                    # letters on PostgreSQL; a stored title with runs of spaces is found only as it is. The
                    # keys are compared below.
                    lowered = list({" ".join(title.split()).lower() for title in chunk})
                    found = sa.or_(
                        found, self._connections.among(sa.func.lower(column, type_=column.type), lowered)
                    )
                query = sa.select(SOURCES).where(found)
                for row in connection.execute(query).mappings():
                    stored = source_key(dict(row))
                    key = ("id", row["id"]) if column is SOURCES.c.id else stored
                    if key in new and source_key(new[key]) == stored:
                        self.ids[key] = row["id"]
                        self.records[row["id"]] = _source_record(row["id"], dict(row))
                        del new[key]

"""Ids for the rows an import inserts: the ids our own export gives, kept where free, and fresh ones; and the
incidents' public ids (incidents.public_ids), likewise."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from incidents.public_ids import new_public_id
from incidents.services.imports import staging
from incidents.services.imports.connections import IN_CHUNK, ImportConnections


class IdAllocator:
    """Draws ids before the rows are built, so that a batch's citations know their incidents' ids."""

    def __init__(self, connections: ImportConnections) -> None:
        self._connections = connections
        # On SQLite, the next free id of each table written: counted here rather than asked of the database
        # (ids are known before the rows are built, and a batch's citations before its incidents are in).
        self._next_ids: dict[str, int] = {}
        self._public_ids: set[str] = set()  # given to the incidents of this import so far

    def public_ids(self, incidents: sa.Table, preferred: list[str | None]) -> list[str]:
        """A public id for each new incident, in order: its preferred one (our own export's) when no incident
        has it and this import has not given it yet, a fresh one if not; every one checked against the
        database (a fresh id is random: that it is taken is unlikely, not impossible). Only reads."""
        chosen: list[str] = []
        for wish in preferred:
            if wish is None or wish in self._public_ids:
                wish = self._draw()
            self._public_ids.add(wish)
            chosen.append(wish)
        column = incidents.c.public_id
        check = chosen
        while check:
            taken = self._taken(column, check)
            check = []
            for position, public_id in enumerate(chosen):
                if public_id in taken:
                    chosen[position] = self._draw()
                    check.append(chosen[position])
        return chosen

    def _taken(self, column: sa.Column[Any], values: list[Any]) -> set[Any]:
        """Those of values that a row has in column already."""
        taken: set[Any] = set()
        for start in range(0, len(values), IN_CHUNK):
            chunk = values[start : start + IN_CHUNK]
            taken.update(
                self._connections.main.scalars(
                    sa.select(column).where(self._connections.among(column, chunk))
                )
            )
        return taken

    def _draw(self) -> str:
        """A fresh public id that this import has not given."""
        public_id = new_public_id()
        while public_id in self._public_ids:
            public_id = new_public_id()
        self._public_ids.add(public_id)
        return public_id

    def allocate(self, table: sa.Table, preferred: list[int | None]) -> list[int]:
        """An id for each new row of table, in order: its preferred id when no row has it, a fresh one if not.

        Only reads: the rows are inserted after, with these ids."""
        wanted = [i for i in preferred if i is not None]
        taken = self._taken(table.c.id, wanted)
        kept = [wish for wish in wanted if wish not in taken]
        if kept and not self._connections.sqlite:
            # Ids given by hand do not move the sequence: move it past them (never back), or the next save
            # takes one of them.
            sequence = sa.func.pg_get_serial_sequence(table.name, "id")
            self._connections.main.execute(
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
        fresh = iter(self.fresh(table, len(preferred) - len(kept), after=max(kept, default=0)))
        return [wish if wish is not None and wish not in taken else next(fresh) for wish in preferred]

    def fresh(self, table: sa.Table, count: int, *, after: int = 0) -> list[int]:
        """count ids that no row has, all above `after` (the largest id kept), for rows this import inserts.
        On SQLite the count moves past `after` even when no id is wanted: the ids kept are taken."""
        if not self._connections.sqlite:
            if not count:
                return []
            # From the table's sequence (INSERT … RETURNING in order is slow on PostgreSQL), on the lookup
            # connection: a sequence gives each value once, whatever the session and the transaction.
            sequence = sa.func.nextval(sa.func.pg_get_serial_sequence(table.name, "id"))
            series = sa.func.generate_series(1, count)
            return list(self._connections.lookup.scalars(sa.select(sequence).select_from(series)))
        first = self._next_ids.get(table.name)
        if first is None:
            if not count:
                return []  # the ids kept are inserted before the count starts from the largest
            # SQLite: the rows are written to the stage and moved into the database at the end, while
            # saves go on and take the ids past the largest: this import's start ID_HEADROOM further
            # (services.imports.staging; the move checks that none was taken).
            largest = self._connections.main.scalar(sa.select(sa.func.max(table.c.id))) or 0
            first = largest + 1 + (staging.ID_HEADROOM if self._connections.stage is not None else 0)
        first = max(first, after + 1)
        self._next_ids[table.name] = first + count
        return list(range(first, first + count))

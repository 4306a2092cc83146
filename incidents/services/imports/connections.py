"""The connections an import uses, and the writes it queues behind them.

Reads and writes take the import's own connection (one transaction: every row or none). On PostgreSQL its
inserts run behind, in a thread (services.imports.behind), while the next batch is read and checked: every
read of that connection first waits for the writes queued before it. What needs not wait (sources looked up
by title, ids drawn from sequences, stored incidents read for duplicate finding) takes a second connection of
its own, which sees what other transactions committed, as the import's does (read committed); it does not
see what this import adds, and needs not: the import keeps its own sources and rows in memory.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from incidents.services.imports.behind import WriteBehind
from incidents.services.imports.staging import Stage

# Bind parameters per IN (…): well under SQLite's and PostgreSQL's limits.
IN_CHUNK = 500


class ImportConnections:
    def __init__(self, connection: sa.Connection, *, dry_run: bool) -> None:
        self._connection = connection
        self.sqlite = connection.dialect.name == "sqlite"
        self._own_lookup = not self.sqlite and not dry_run
        self._lookup: sa.Connection | None = None
        # Two batches queued at most (a batch is seven inserts): enough to keep the server busy, and the
        # rows waiting are held in memory.
        self.behind = WriteBehind(threaded=not self.sqlite, limit=14)
        # SQLite: where the rows are written until they move into the database (services.imports.staging).
        self.stage: Stage | None = None

    @property
    def main(self) -> sa.Connection:
        """The import's connection, once every write queued so far is done."""
        self.behind.wait()
        return self._connection

    @property
    def unwaited(self) -> sa.Connection:
        """The import's connection without waiting for the writes queued: for the writes themselves."""
        return self._connection

    @property
    def lookup(self) -> sa.Connection:
        """A connection to read what other transactions committed, without waiting for the writes queued:
        on PostgreSQL one of its own (opened when first asked for), on SQLite the import's."""
        if not self._own_lookup:
            return self._connection
        if self._lookup is None:
            self._lookup = self._connection.engine.connect()
        return self._lookup

    def among(self, column: sa.ColumnElement[Any], values: list[Any]) -> sa.ColumnElement[bool]:
        """column IN values. On PostgreSQL as IN (SELECT unnest(one array)): its driver reads one parameter
        much faster than hundreds, and a semi-join stays fast when the statement is prepared with a generic
        plan (= ANY(array) would then compare each row with the whole array)."""
        if not self.sqlite:
            array = sa.literal(values, postgresql.ARRAY(column.type))
            return column.in_(sa.select(sa.func.unnest(array)))
        return column.in_(values)

    def close(self) -> None:
        """Stop the writing thread, after the writes queued (or at once after a failed one), and close the
        lookup connection. The transaction is left to the caller, to commit or roll back."""
        try:
            self.behind.close()
        finally:
            if self._lookup is not None:
                self._lookup.close()

"""SQLite: an import's rows written to a scratch database first, and moved into the database in one short
transaction at the end, so that saves go on while a file is read, checked and written.

SQLite has one write lock for the whole database, held from a transaction's first write to its end. An
import written straight into the database would hold it from its first batch to its commit (seconds to
minutes), and every save meanwhile would wait, then fail. Instead the import's connection attaches a scratch
file (`import_stage`, beside the database, deleted after) and writes every batch there: writes to an attached
file lock that file only. Its reads (sources, ids, stored incidents) still read the database itself. At the
end, `move` begins an IMMEDIATE transaction on the database and copies the staged rows in with one
INSERT … SELECT per table (tens of microseconds a row, against hundreds to read, check and build it); the
possible duplicates, the map's rollup and the audit entry follow in the same transaction, which the import's
commit ends. The import stays whole or absent: nothing reaches the database before that one transaction, and a
process killed before its commit leaves only a scratch file, removed by the next import.

Ids. The rows are built with their ids (the stored records hold them), before the move. Saves made meanwhile
take the ids past the largest, so an import draws its fresh ids ID_HEADROOM past the largest id stored when it
began: a save would have to be one of more than ID_HEADROOM saves during the import to take one of them.
Ids kept from our own export, public ids and external ids are checked once more in the move's transaction:
if one was taken meanwhile, nothing is imported and the import says so (run it again).

PostgreSQL needs none of this: rows are locked one by one, and an import's transaction keeps no save waiting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from incidents.importing.reading import FileError
from incidents.services.transactions import busy_timeout, is_busy

logger = logging.getLogger(__name__)

SCHEMA = "import_stage"
# How far past the largest stored id an import draws its fresh ids (see the module's docstring).
ID_HEADROOM = 10_000
# How long the move waits for the write lock, at most, in busy timeouts: an import runs in the background
# and may wait for a while; a save would have given up after two.
MOVE_WAIT = 6

_INFO_KEY = "incidents.import_stage"
_FILE = re.compile(r"^\.import-stage-(\d+)-[0-9a-f]{32}\.sqlite$")


class Stage:
    """The scratch database of one import, attached to its connection as `import_stage`."""

    def __init__(
        self, connection: sa.Connection, tables: list[sa.Table], *, unnumbered: set[sa.Table]
    ) -> None:
        self._connection = connection
        self._tables = tables  # in the order they are moved: a row's parents first
        self._unnumbered = unnumbered  # whose rows are written without ids: they take the database's
        folder = _folder(connection)
        remove_abandoned(folder)
        self.path = folder / f".import-stage-{os.getpid()}-{uuid.uuid4().hex}.sqlite"
        self._attached = False
        attached = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
        if SCHEMA in attached:  # left by an import whose stage could not be detached (see close)
            connection.exec_driver_sql(f"DETACH DATABASE {SCHEMA}")
        connection.exec_driver_sql(f"ATTACH DATABASE ? AS {SCHEMA}", (str(self.path),))
        self._attached = True
        # Detached and deleted when the connection goes back to the pool (`release`): after the import's
        # transaction, whichever way it ended, and before another user of the pool takes the connection.
        connection.connection.info[_INFO_KEY] = self
        # A scratch file: thrown away after a crash, so written without waiting for the disk.
        connection.exec_driver_sql(f"PRAGMA {SCHEMA}.synchronous = OFF")
        connection.exec_driver_sql(f"PRAGMA {SCHEMA}.journal_mode = MEMORY")
        quote = connection.dialect.identifier_preparer.quote
        for table in tables:
            # Same columns, same type affinities (values are stored as the database would store them), no
            # constraints: the database checks them when the rows move in.
            name = quote(table.name)
            connection.exec_driver_sql(
                f"CREATE TABLE {SCHEMA}.{name} AS SELECT * FROM main.{name} WHERE 0"  # noqa: S608 - our tables
            )

    def name(self, table: sa.Table) -> str:
        """The staged table's name, quoted, for a statement."""
        return f"{SCHEMA}.{self._connection.dialect.identifier_preparer.quote(table.name)}"

    def commit(self) -> None:
        """Commit the rows staged so far: a transaction of the scratch file alone. The import's reads of the
        database then see what others committed since, as on PostgreSQL (read committed), and hold no old
        snapshot that would keep the database's write-ahead log from being checkpointed."""
        driver = self._connection.connection.driver_connection
        if driver is not None:
            driver.commit()

    def move(self) -> None:
        """End the staged writes and move every staged row into the database, in a transaction begun here
        and left open (the caller adds what follows, and commits or rolls back). FileError, nothing moved,
        when a row would take an id, a public id or an external id stored meanwhile, or when the write lock
        stayed taken for MOVE_WAIT busy timeouts."""
        connection = self._connection
        self.commit()
        self._begin_immediate()
        quote = connection.dialect.identifier_preparer.quote
        try:
            for table in self._tables:
                # Rows without an id of their own (claims, estimates) take the database's next.
                names = [
                    column.name
                    for column in table.columns
                    if not (column.name == "id" and table in self._unnumbered)
                ]
                listed = ", ".join(map(quote, names))
                connection.exec_driver_sql(
                    f"INSERT INTO main.{quote(table.name)} ({listed}) SELECT {listed} FROM {self.name(table)}"  # noqa: S608 - our own tables' names
                )
        except sa.exc.IntegrityError as error:
            raise FileError(
                "While this file was imported, other saves took an id, a public id or an external id its "
                "rows were given (or another import of the same rows finished first): nothing was imported. "
                f"Import the file again. ({error.orig})"
            ) from error

    def _begin_immediate(self) -> None:
        """Take the write lock, waiting for others' saves: a few tries of the busy timeout each, with pauses
        between; FileError after MOVE_WAIT busy timeouts."""
        connection = self._connection
        deadline = time.monotonic() + MOVE_WAIT * busy_timeout()
        pause = 0.05
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except sa.exc.OperationalError as error:
                if not is_busy(error):
                    raise
                if time.monotonic() + pause >= deadline:
                    raise FileError(
                        f"The database stayed busy with other saves for {MOVE_WAIT * busy_timeout():.0f} "
                        "s: nothing was imported. Import the file again."
                    ) from error
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def close(self, driver: Any) -> None:
        """Detach the scratch file from the driver's connection and delete it: after the import's transaction
        has ended (SQLite detaches no database inside one)."""
        try:
            if self._attached:
                if driver.in_transaction:
                    driver.rollback()  # the pool's reset on return ends any transaction before
                driver.execute(f"DETACH DATABASE {SCHEMA}")
                self._attached = False
        except sqlite3.Error as error:
            # Left attached, to a file deleted below (its open handle keeps the bytes until the connection
            # closes); the next stage on this connection detaches it first.
            logger.warning("could not detach an import's stage: %s", error)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # its journal is kept in memory: no other file


def release(driver: Any, record: Any) -> None:
    """The pool's checkin event on SQLite: the stage of an import that used this connection is detached
    and deleted."""
    stage = record.info.pop(_INFO_KEY, None)
    if stage is not None:
        stage.close(driver)


def _folder(connection: sa.Connection) -> Path:
    """The folder of the database file (the scratch file goes beside it, on the same disk); a temporary
    folder for a database in memory."""
    database = connection.engine.url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).resolve().parent
    return Path(tempfile.gettempdir())


def remove_abandoned(folder: Path) -> None:
    """Delete the scratch files that imports killed before their end left in folder (their process gone)."""
    for path in folder.glob(".import-stage-*.sqlite"):
        match = _FILE.match(path.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stage_for(
    connection: sa.Connection, tables: list[sa.Table], *, unnumbered: set[sa.Table], dry_run: bool
) -> Stage | None:
    """A stage for an import on SQLite that writes; None on PostgreSQL and for a dry run."""
    if dry_run or connection.dialect.name != "sqlite":
        return None
    return Stage(connection, tables, unnumbered=unnumbered)


__all__ = ["ID_HEADROOM", "SCHEMA", "Stage", "release", "remove_abandoned", "stage_for"]

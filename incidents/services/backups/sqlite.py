"""SQLite: a copy by the online backup API, checked by SQLite itself, and copied back into place the same way.

The copy is taken in one step (sqlite3's backup with its default of every page at once): one read
transaction, so it is the database as one moment saw it, while the app's writers go on (in WAL mode a reader
blocks no writer). A backup in several steps would start again each time another connection wrote, and might
never end under a steady load.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import cast

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from incidents.services.backups.manifest import BackupError

METHOD = f"SQLite online backup API (SQLite {sqlite3.sqlite_version})"


def read_only(path: Path) -> sqlite3.Connection:
    """A connection to the database file that cannot write to it."""
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def copy_out(engine: sa.Engine, target: Path) -> None:
    """Copy the engine's database into target, an empty file; the copy keeps no write-ahead log beside it."""
    with engine.connect() as connection:
        source = cast(sqlite3.Connection, connection.connection.driver_connection)
        with closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
            # The copy is in WAL mode as its source is: back to a rollback journal, so that it is one file.
            copy.execute("PRAGMA journal_mode=DELETE")


def verify(path: Path) -> str:
    """Run SQLite's integrity and foreign key checks on the copy; what they said, or BackupError."""
    with closing(read_only(path)) as copy:
        integrity = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        orphans = copy.execute("PRAGMA foreign_key_check").fetchall()
    if integrity != ["ok"]:
        raise BackupError(f"The copy fails SQLite's integrity check: {'; '.join(integrity[:5])}")
    if orphans:
        raise BackupError(
            f"The copy fails SQLite's foreign key check: {len(orphans)} row(s) refer to rows that do not "
            f"exist (the first in table {orphans[0][0]})."
        )
    return "PRAGMA integrity_check: ok; PRAGMA foreign_key_check: ok"


@contextmanager
def reading(path: Path) -> Iterator[sa.Connection]:
    """A SQLAlchemy connection that reads the copy, and cannot change it."""
    engine = sa.create_engine("sqlite://", creator=lambda: read_only(path), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def copy_in(backup: Path, target: Path) -> None:
    """Copy the backup into the database file target, in one transaction of the target: whole, or nothing."""
    with closing(read_only(backup)) as source, closing(sqlite3.connect(target)) as database:
        source.backup(database)

"""Erased text gone from the database's files, not only from its tables.

SQLite: a deleted or overwritten row leaves its bytes in the page it was on (free space, freed pages) unless
`secure_delete` is on, which zeroes them; every connection of the app has it on (incidents._configure_sqlite)
and an erasure checks it on its own. The write-ahead log still holds the pages as they were before, and
older frames with the text in it, until a checkpoint copies the pages back and `wal_checkpoint(TRUNCATE)`
empties it: run after the erasure's commit.

PostgreSQL: a deleted or updated row stays in its table's (and its indexes') pages as a dead tuple until
VACUUM; VACUUM makes the space reusable, and the bytes are gone once the space is used again. Run after the
commit on every table an erasure touches (with ANALYZE: the planner's statistics sample column values).
The write-ahead log segments, archives, replicas and backups are beyond the app's reach (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

# Every table an erasure deletes from or rewrites.
TOUCHED_TABLES = (
    "incidents",
    "citations",
    "casualty_claims",
    "casualty_estimates",
    "incident_type_links",
    "duplicate_flags",
    "incident_records",
    "map_cells",
    "sources",
    "location_rules",
    "audit_entries",
    "audit_head",
)


@dataclass(frozen=True)
class Purge:
    """What the step after an erasure's commit did to the database's files, and whether it is complete."""

    done: bool
    message: str


def secure_delete_on(connection: sa.Connection) -> None:
    """Make sure SQLite zeroes what this connection deletes (a no-op elsewhere)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA secure_delete = ON")


def purge_files(engine: sa.Engine) -> Purge:
    """After an erasure's commit: empty SQLite's write-ahead log into the database file, or VACUUM the
    tables an erasure touches on PostgreSQL. Outside any transaction, on a connection of its own."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if connection.dialect.name == "sqlite":
            return _checkpoint(connection)
        if connection.dialect.name == "postgresql":
            foreign = _not_owned(connection)
            if foreign:
                return Purge(
                    False,
                    f"The app's database account does not own {', '.join(foreign)}, and PostgreSQL lets only "
                    "a table's owner VACUUM it: run `VACUUM (ANALYZE)` on them as their owner.",
                )
            for table in TOUCHED_TABLES:
                connection.exec_driver_sql(f"VACUUM (ANALYZE) {table}")
            return Purge(
                True,
                "VACUUM (ANALYZE) ran on the tables erased from: their dead rows are free space, overwritten "
                "as the database writes again. PostgreSQL's write-ahead log segments, WAL archives, replicas "
                "and backups may still hold the erased text.",
            )
    return Purge(False, f"nothing is done to the files of a {engine.dialect.name} database")


def _not_owned(connection: sa.Connection) -> list[str]:
    """The touched tables whose owner the connection's account is not (VACUUM would skip them, warning)."""
    query = sa.text(
        "SELECT relname FROM pg_class WHERE relname = ANY(:tables) AND relkind = 'r'"
        " AND relnamespace = current_schema()::regnamespace AND NOT pg_has_role(relowner, 'USAGE')"
    )
    return sorted(connection.scalars(query, {"tables": list(TOUCHED_TABLES)}))


def _checkpoint(connection: sa.Connection) -> Purge:
    """wal_checkpoint(TRUNCATE): it waits (the busy timeout) for writers and for readers of older snapshots,
    copies every page of the log into the database file, and truncates the log to nothing."""
    busy, logged, copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy or (logged != -1 and logged != copied):
        return Purge(
            False,
            "The write-ahead log could not be emptied now (another connection is reading or writing): it may "
            "still hold the erased text. Run `flask --app incidents erase purge` again in a quieter moment.",
        )
    return Purge(
        True, "The write-ahead log was emptied into the database file, where the erased text is zeroed."
    )

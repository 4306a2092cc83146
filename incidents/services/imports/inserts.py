"""Inserting rows in bulk: the driver's executemany on SQLite, a binary COPY on PostgreSQL, queued behind."""

from __future__ import annotations

import enum
import operator
from typing import Any

import sqlalchemy as sa

from incidents.services.imports import staging
from incidents.services.imports.connections import ImportConnections


class RowInserter:
    """Inserts rows of any table of the import, without SQLAlchemy's per-row bookkeeping."""

    def __init__(self, connections: ImportConnections) -> None:
        self._connections = connections
        self._types: dict[str, dict[str, int]] = {}  # PostgreSQL: see _column_types

    def insert(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert rows (all with the same keys, none changed after): one executemany, or on PostgreSQL one
        COPY, which takes rows an order of magnitude faster than the driver takes a statement with
        thousands of parameters. On PostgreSQL the COPY is queued, to run behind."""
        if not rows:
            return
        columns = list(rows[0])
        if any(c.default is not None and c.name not in columns for c in table.columns):
            # A Python-side default to fill in: SQLAlchemy's own executemany does that (not behind).
            stage = self._connections.stage
            options = {"schema_translate_map": {None: staging.SCHEMA}} if stage is not None else {}
            self._connections.main.execute(sa.insert(table), rows, execution_options=options)
            return
        driver = self._connections.unwaited.connection.driver_connection
        if driver is None:
            raise RuntimeError("The import's connection was closed before its rows were written.")
        if self._connections.sqlite:
            insert, values = self._sqlite_values(table, columns, rows)
            self._connections.behind.submit(lambda: _sqlite_executemany(driver, insert, values))
            return
        from psycopg import sql as pg_sql  # only on PostgreSQL; SQLite deployments need not load it

        copy = pg_sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            pg_sql.Identifier(table.name), pg_sql.SQL(", ").join(map(pg_sql.Identifier, columns))
        )
        types = self._column_types(table)
        self._connections.behind.submit(
            lambda: _copy(driver, copy, [types[name] for name in columns], columns, rows)
        )

    def _column_types(self, table: sa.Table) -> dict[str, int]:
        """PostgreSQL: the type (oid) of each of the table's columns, as the database has them, for a binary
        COPY: values go in as the server stores them, with no text to write and parse (a stored record's
        bytes, for one, would go as hex text, twice their size)."""
        types = self._types.get(table.name)
        if types is None:
            types = self._types[table.name] = column_types(self._connections.lookup, table.name)
        return types

    def _sqlite_values(
        self, table: sa.Table, columns: list[str], rows: list[dict[str, Any]]
    ) -> tuple[str, list[list[Any]]]:
        """The statement, and the rows as lists for the driver's executemany, each value through the bind
        processor SQLAlchemy itself would apply to its column (dates and timestamps as text, enums by value):
        the same stored values, without SQLAlchemy's per-row bookkeeping (which costs more than SQLite's
        insert). Into the stage (services.imports.staging), where the import has one."""
        dialect = self._connections.unwaited.dialect
        quote = dialect.identifier_preparer.quote
        stage = self._connections.stage
        name = stage.name(table) if stage is not None else quote(table.name)
        statement = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - quoted names of our own table
            name, ", ".join(map(quote, columns)), ", ".join("?" * len(columns))
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

"""Write transactions that wait for a busy database instead of failing half-way, and say so when they cannot.

A save is one unit of work: every read it decides on and every write it makes, in one transaction, committed
once. On SQLite, writers take turns on the database's one write lock. By default pysqlite runs the reads
before a save's first write outside any transaction and begins one (deferred) just before that write: what
the save read may have changed by then, and its wait for the lock falls in the middle of its work. (Reads
inside a deferred transaction would be worse: a reader that then writes after another process committed
cannot wait at all, and fails at once with "database is locked", whatever the busy timeout.) So a unit of
work begins with BEGIN IMMEDIATE (the pysqlite recipe of SQLAlchemy's documentation): it waits for the lock,
up to the busy timeout, before its first read, and then cannot fail for want of it.
On PostgreSQL, rows are locked one by one: a writer waits for another's row up to lock_timeout, which every
connection sets to the same busy timeout.

A unit of work that still finds the database busy (the lock not free within the busy timeout; on PostgreSQL a
lock timeout, a deadlock or a serialization failure) is rolled back whole and run again after a short pause,
within a bounded number of attempts and about twice the busy timeout; then DatabaseBusy, which the web
answers with 503 and Retry-After. Reads never begin IMMEDIATE: in WAL mode they wait for no one.

A unit of work is never stopped half-way by the time budget of the request's reads (incidents.query_budget):
the budget is lifted while it runs, and is the request's again after it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import current_app

from incidents import query_budget
from incidents.extensions import db

T = TypeVar("T")

# Attempts at one unit of work, and the first pause between two (doubled at each, with jitter so that the
# writers that failed together do not come back together).
ATTEMPTS = 3
FIRST_PAUSE = 0.05  # seconds
# How long a write that is worth making only if the database is free (a token's last use) waits for it.
BRIEF_WAIT = 0.05  # seconds

# SQLite's result codes (the primary code, the low byte of an extended one): SQLITE_BUSY ("database is
# locked", which SQLITE_BUSY_SNAPSHOT and the others extend) and SQLITE_LOCKED (a table locked within one
# connection's shared cache).
_SQLITE_BUSY_CODES = frozenset({5, 6})
# PostgreSQL's SQLSTATEs for a unit of work that may succeed if run again: lock_not_available (lock_timeout),
# serialization_failure, deadlock_detected.
_POSTGRESQL_BUSY_STATES = frozenset({"55P03", "40001", "40P01"})


class DatabaseBusy(Exception):
    """The database stayed busy with other writes: nothing of this change was saved; try again after
    retry_after seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"The database is busy with other changes: try again after {retry_after} s.")
        self.retry_after = retry_after


def is_busy(error: BaseException) -> bool:
    """Whether error is the database being busy (locked, a lock timeout, a deadlock, a serialization failure),
    which a later attempt may get through; not a mistake of the statement or of the data."""
    if isinstance(error, DatabaseBusy):
        return True
    if not isinstance(error, sa.exc.OperationalError):
        return False
    cause = error.orig
    sqlstate = getattr(cause, "sqlstate", None)  # psycopg
    if sqlstate is not None:
        return sqlstate in _POSTGRESQL_BUSY_STATES
    code = getattr(cause, "sqlite_errorcode", None)  # sqlite3, from Python 3.11
    if isinstance(code, int):
        return code & 0xFF in _SQLITE_BUSY_CODES
    return False


def busy_timeout() -> float:
    """How long, in seconds, a write waits for another's lock (DATABASE_BUSY_TIMEOUT)."""
    return float(current_app.config["DATABASE_BUSY_TIMEOUT"])


def retry_after() -> int:
    """The Retry-After, in whole seconds, of an answer that the database was too busy."""
    return max(1, math.ceil(busy_timeout()))


def commit_unit(change: Callable[[], T]) -> T:
    """Run change (the service call of one save) in one write transaction and commit it; what it returned.

    change runs again, from a rolled-back session, when the database was busy: it must read what it needs
    afresh (objects loaded before are reloaded as they are now) and do nothing outside the database. Any
    other error is raised as it came, for the caller to roll back and answer; DatabaseBusy when the attempts
    or the time run out.
    """
    with query_budget.lifted():
        return _commit_unit(change)


def _commit_unit(change: Callable[[], T]) -> T:
    deadline = time.monotonic() + 2 * busy_timeout()
    attempt = 1
    while True:
        try:
            _begin_write(busy_timeout())
            done = change()
            db.session.commit()
            return done
        except sa.exc.OperationalError as error:
            db.session.rollback()
            if not is_busy(error):
                raise
            pause = FIRST_PAUSE * 2 ** (attempt - 1) * random.uniform(1, 2)  # noqa: S311 - jitter, no secret
            if attempt >= ATTEMPTS or time.monotonic() + pause >= deadline:
                current_app.logger.warning("database busy after %d attempts: %s", attempt, error.orig)
                raise DatabaseBusy(retry_after()) from error
            time.sleep(pause)
            attempt += 1


def commit_if_free(change: Callable[[], object]) -> bool:
    """Run change in a write transaction and commit it if the database is free within BRIEF_WAIT; else roll
    back and leave it: for a write that a later request will make as well (a token's last use), and that
    must not keep a read request waiting. Whether it was committed."""
    try:
        with query_budget.lifted():
            _begin_write(BRIEF_WAIT)
            change()
            db.session.commit()
    except sa.exc.OperationalError as error:
        db.session.rollback()
        if not is_busy(error):
            raise
        return False
    return True


def _begin_write(wait: float) -> None:
    """End the session's transaction (objects read in it are read again, now) and begin one that waits up
    to wait seconds for the write lock (SQLite) or for any lock (PostgreSQL). Every connection waits the busy
    timeout (incidents._configure_sqlite, _configure_postgresql); a shorter wait is for this one only."""
    db.session.rollback()
    connection = db.session.connection()
    shorter = wait != busy_timeout()
    if connection.dialect.name == "sqlite":
        # pysqlite begins a transaction by itself only before a data-changing statement, so none is open
        # here: this BEGIN is the transaction's first statement, and its COMMIT is the session's.
        if not shorter:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_timeout() * 1000)}")
    elif connection.dialect.name == "postgresql" and shorter:
        # For this transaction only (is_local true).
        connection.execute(
            sa.select(sa.func.set_config("lock_timeout", f"{max(1, int(wait * 1000))}ms", True))
        )

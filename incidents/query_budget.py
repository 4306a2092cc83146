"""The time budget of a request's queries: past it, the statement under way is stopped and
QueryBudgetExceeded raised, which the web answers 503 (incidents.web.budget), never a 500.

One budget a request, over all its statements, from start(seconds) to stop(); it lives in a ContextVar, so
it is this request's alone, and a connection that goes back to the pool keeps nothing of it:

- before each statement, when no time is left, the statement is not sent at all;
- on SQLite, a progress handler (sqlite3's set_progress_handler), called every PROGRESS_STEPS instructions of
  SQLite's virtual machine, stops the statement once the deadline has passed (SQLITE_INTERRUPT). It is put on
  a connection when a budgeted statement first runs on it, and taken off when the connection is checked in;
- on PostgreSQL, the transaction's statement_timeout (set_config(..., true): it ends with the transaction) is
  set to the time left when a budgeted statement runs in a transaction that has none, and set again once the
  time left has fallen by more than a tenth of the budget since, so that a request's statements together
  overrun the budget by at most that tenth; the server stops a statement past it (SQLSTATE 57014). A statement
  run without a budget in a transaction that has one sets it back to the server's default first.

Writes are not cut short: lifted() suspends the budget for a unit of work (services.transactions), which
must commit whole or not at all, and for the rate limits' counters (web.limit_storage).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
import sqlalchemy as sa

# SQLite instructions between two looks at the clock: about a third of a millisecond of a query's work, for a
# cost of about 0.1 % of it (1,000 instructions cost about 1 %).
PROGRESS_STEPS = 10_000
# What a connection's pool record holds while the budget acts on it (the progress handler put on SQLite; on
# PostgreSQL, the time.monotonic() at which this transaction's statement_timeout was set).
_INFO_KEY = "incidents.query_budget"
_SQLITE_INTERRUPT = 9  # sqlite3.Error.sqlite_errorcode of a statement its progress handler stopped
_QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement past statement_timeout


@dataclass(frozen=True)
class Budget:
    seconds: float
    deadline: float  # on time.monotonic()'s clock

    def left(self) -> float:
        """Seconds left; QueryBudgetExceeded when none are."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise QueryBudgetExceeded(self.seconds)
        return left


class QueryBudgetExceeded(Exception):
    """The request's queries ran past its budget: the statement under way was stopped, nothing is answered."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request's queries took longer than their budget of {seconds:g} s.")
        self.seconds = seconds


_budget: ContextVar[Budget | None] = ContextVar("query_budget", default=None)


def start(seconds: float) -> None:
    """From now on, this request's statements have seconds in all."""
    _budget.set(Budget(seconds, time.monotonic() + seconds))


def stop() -> None:
    """No budget from now on (the request ended, or what remains of it may take its time)."""
    _budget.set(None)


def current() -> Budget | None:
    return _budget.get()


@contextlib.contextmanager
def lifted() -> Iterator[None]:
    """No budget within the block; the request's, as it was, after it."""
    token = _budget.set(None)
    try:
        yield
    finally:
        _budget.reset(token)


def install(engine: sa.Engine) -> None:
    """Keep the statements run on engine within the budget of the request that runs them."""
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "before_cursor_execute", _before_sqlite_statement)
    elif engine.dialect.name == "postgresql":
        sa.event.listen(engine, "before_cursor_execute", _before_postgresql_statement)
    else:
        return
    sa.event.listen(engine, "checkin", _checkin)
    sa.event.listen(engine, "handle_error", _budget_error)


def _past_deadline() -> bool:
    """SQLite's progress handler: true stops the statement."""
    budget = _budget.get()
    return budget is not None and time.monotonic() > budget.deadline


def _before_sqlite_statement(connection: sa.Connection, *_statement: Any) -> None:
    budget = _budget.get()
    if budget is None:
        return
    budget.left()
    if _INFO_KEY not in connection.info:
        connection.connection.dbapi_connection.set_progress_handler(  # type: ignore[union-attr]
            _past_deadline, PROGRESS_STEPS
        )
        connection.info[_INFO_KEY] = True


def _before_postgresql_statement(connection: sa.Connection, *_statement: Any) -> None:
    raw: Any = connection.connection.dbapi_connection
    info = connection.info
    if raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        info.pop(_INFO_KEY, None)  # this statement begins a transaction: none of ours is set in it
    set_at = info.get(_INFO_KEY)
    budget = _budget.get()
    if budget is None:
        if set_at is not None:
            raw.execute("SET LOCAL statement_timeout TO DEFAULT")
            del info[_INFO_KEY]
        return
    left = budget.left()
    now = time.monotonic()
    if set_at is None or now - set_at > budget.seconds / 10:
        raw.execute("SELECT set_config('statement_timeout', %s, true)", [f"{max(1, int(left * 1000))}ms"])
        info[_INFO_KEY] = now


def _checkin(dbapi_connection: Any, record: Any) -> None:
    """A connection back in the pool keeps nothing of the request's budget (a PostgreSQL transaction's
    setting ended with its rollback)."""
    if record.info.pop(_INFO_KEY, None) is not None and isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.set_progress_handler(None, 0)


def _budget_error(context: sa.engine.ExceptionContext) -> BaseException | None:
    """A statement stopped for the budget, as QueryBudgetExceeded rather than a database error."""
    budget = _budget.get()
    if budget is None:
        return None
    error = context.original_exception
    stopped = getattr(error, "sqlite_errorcode", None) == _SQLITE_INTERRUPT
    canceled = getattr(error, "sqlstate", None) == _QUERY_CANCELED
    return QueryBudgetExceeded(budget.seconds) if stopped or canceled else None

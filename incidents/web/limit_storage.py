"""Rate-limit counts in the app's own database: Flask-Limiter's storage for RATELIMIT_STORAGE_URI "database://".

Flask-Limiter keeps its counts in a storage of the `limits` package; those it ships are memory (each process
counts apart: every worker would grant a client its limit again), Redis, Memcached, MongoDB and etcd (a
server beside the app). No kept package gives a storage in an SQL database, so this is one, for the fixed
window that Flask-Limiter uses by default: a row per client and limit (RateLimitCounter), counted up by one
statement that every process of every instance sees at once, with no other server than the database.

- One INSERT … ON CONFLICT DO UPDATE … RETURNING adds to the count, or starts a new window when the row's has
  ended, and gives the new count back: atomic on SQLite (the one write lock) and on PostgreSQL (the row's).
- Each count is committed at once, on a connection of its own, outside the request's transaction, and outside
  its query budget (incidents.query_budget): a count is never rolled back with a page, nor cut short by it.
- On SQLite a count takes the database's write lock for a moment, as a save does: it waits WRITE_WAIT for it,
  not the busy timeout, and when the database is still busy (a long import holding it) the request is let
  through uncounted, with a warning in the log. Refusing it instead would turn every long write into an outage
  of the public pages the limits are there to keep up; the limits catch up at the next request. Only the
  public's costly requests and login attempts are counted (web.rate_limits), not every page.
- A count's commit does not wait for the disk (SQLite's synchronous NORMAL, PostgreSQL's synchronous_commit
  off, for its transaction only): a lost count is nothing, and the wait is most of a count's cost.
- Rows whose window ended are deleted every PURGE_EVERY counts of a process.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite

from incidents import query_budget
from incidents.extensions import db
from incidents.models import RateLimitCounter
from incidents.services.transactions import is_busy

log = logging.getLogger(__name__)

COUNTERS = cast(sa.Table, RateLimitCounter.__table__)
# How long a count waits for SQLite's write lock before the request goes on uncounted (seconds).
WRITE_WAIT = 0.5
PURGE_EVERY = 1000
# The connection's own synchronous setting, put back after a count (in the pool record's info).
_SYNCHRONOUS = "incidents.synchronous"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DatabaseStorage(Storage):
    """Flask-Limiter's counts in the rate_limit_counters table of the app's database."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._counted = 0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """The key's count after adding amount (a new window of expiry seconds if its own has ended); 0,
        letting the request through, when the database stayed busy."""
        now = time.time()
        values = {"key_digest": _digest(key), "amount": amount, "expires_at": now + expiry, "now": now}
        self._counted += 1
        purge = self._counted % PURGE_EVERY == 0
        try:
            with _writing() as connection:
                count = int(connection.execute(_counting(connection.dialect.name), values).scalar_one())
                if purge:
                    connection.execute(sa.delete(COUNTERS).where(COUNTERS.c.expires_at <= now))
                connection.commit()
        except sa.exc.OperationalError as error:
            if not is_busy(error):
                raise
            log.warning("rate limit not counted: the database is busy (%s)", error.orig)
            return 0
        return count

    def get(self, key: str) -> int:
        count = self._read(COUNTERS.c.count, key)
        return int(count) if count is not None else 0

    def get_expiry(self, key: str) -> float:
        expires_at = self._read(COUNTERS.c.expires_at, key)
        return float(expires_at) if expires_at is not None else time.time()

    def check(self) -> bool:
        try:
            with query_budget.lifted(), db.engine.connect() as connection:
                connection.execute(sa.select(sa.func.count()).select_from(COUNTERS))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with _writing() as connection:
            deleted = connection.execute(sa.delete(COUNTERS)).rowcount
            connection.commit()
        return deleted

    def clear(self, key: str) -> None:
        with _writing() as connection:
            connection.execute(sa.delete(COUNTERS).where(COUNTERS.c.key_digest == _digest(key)))
            connection.commit()

    def _read(self, column: Any, key: str) -> Any:
        """The column of the key's row while its window lasts, or None."""
        query = sa.select(column).where(
            COUNTERS.c.key_digest == _digest(key), COUNTERS.c.expires_at > time.time()
        )
        with query_budget.lifted(), db.engine.connect() as connection:
            return connection.scalar(query)


@functools.cache
def _counting(dialect: str) -> Any:
    """The statement that counts: add amount to the key's count, or start a new window when its own has
    ended (now is past its expiry), and give the count back. One statement, made once per dialect."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(COUNTERS).values(
        key_digest=sa.bindparam("key_digest"),
        count=sa.bindparam("amount"),
        expires_at=sa.bindparam("expires_at"),
    )
    ended = COUNTERS.c.expires_at <= sa.bindparam("now", type_=sa.Float)
    return insert.on_conflict_do_update(
        index_elements=[COUNTERS.c.key_digest],
        set_={
            "count": sa.case((ended, insert.excluded.count), else_=COUNTERS.c.count + insert.excluded.count),
            "expires_at": sa.case((ended, insert.excluded.expires_at), else_=COUNTERS.c.expires_at),
        },
    ).returning(COUNTERS.c.count)


@contextmanager
def _writing() -> Iterator[sa.Connection]:
    """A connection of its own, outside the request's transaction and query budget, whose commit does not
    wait for the disk: a power cut may lose the last counts, never the database's consistency, and the next
    save's commit writes them to the disk with its own. On SQLite (synchronous NORMAL, and the write lock
    waited for WRITE_WAIT rather than the busy timeout, for this transaction only) a count then costs about
    0.4 ms rather than 2 here; on PostgreSQL (synchronous_commit off) about 0.8 ms rather than 1, and a
    client's row stays locked that much less while its requests come at once."""
    with query_budget.lifted(), db.engine.connect() as connection:
        raw: Any = connection.connection.dbapi_connection
        if connection.dialect.name == "postgresql":
            raw.execute("SET LOCAL synchronous_commit TO OFF")
            yield connection
            return
        if _SYNCHRONOUS not in connection.info:
            connection.info[_SYNCHRONOUS] = int(raw.execute("PRAGMA synchronous").fetchone()[0])
        raw.execute(f"PRAGMA busy_timeout = {int(WRITE_WAIT * 1000)}")
        raw.execute("PRAGMA synchronous = NORMAL")
        try:
            yield connection
        finally:
            connection.rollback()
            raw.execute(f"PRAGMA busy_timeout = {int(current_app.config['DATABASE_BUSY_TIMEOUT'] * 1000)}")
            raw.execute(f"PRAGMA synchronous = {connection.info[_SYNCHRONOUS]}")

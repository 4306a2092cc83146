"""The audit trail: every change the services make, who made it, when, through which channel, and why.

Each entry is a link of a hash chain. Its canonical content (sorted JSON) names its place (`seq`), the time,
the account and API token, the channel, the operation, its target, the values before and after, field by
field, and the reason; its hash is the SHA-256 of the previous entry's hash and this content. Changing an
entry, removing one or reordering them breaks the chain at that entry: `verify` walks it and names the first
broken link, and `export` writes it as JSON Lines with its head, so that a copy kept elsewhere can be
compared. Appending takes the lock of the chain's head row (audit_head) in the writer's transaction, so two
saves committing at once never fork the chain: the second waits for the first, and links after it.

Never passwords, token secrets or session ids: the services pass snapshots that hold none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from incidents.models import AuditEntry, AuditHead, User
from incidents.models.columns import utcnow

ENTRIES = cast(sa.Table, AuditEntry.__table__)
HEAD = cast(sa.Table, AuditHead.__table__)
GENESIS = "0" * 64  # the previous hash of the first entry
_HEAD_ID = 1
# The columns that repeat the content, for queries; verify checks they agree with it.
_REPEATED = ("user_id", "token_id", "channel", "operation", "target_type", "target_id")


class Channel:
    WEB = "web"  # a page, by a logged-in account
    API = "api"  # the REST API, by a token
    CLI = "cli"  # `flask --app incidents …`, by whoever runs it
    IMPORT = "import"  # the import page's background job
    SYSTEM = "system"  # the application's own setup


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and through what: the account (None for the command line without one), the
    channel, and the API token's id when the API was used."""

    user: User | None
    channel: str
    token_id: int | None = None

    @property
    def user_id(self) -> int | None:
        return self.user.id if self.user is not None else None


COMMAND_LINE = Actor(None, Channel.CLI)  # `flask --app incidents …` without an account named
SYSTEM = Actor(None, Channel.SYSTEM)  # the application's own setup (the seed vocabulary)


def canonical(value: Any) -> str:
    """JSON with sorted keys, no spaces, UTF-8 as is: the bytes an entry's hash covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not kept in the audit trail")


def link_hash(previous_hash: str, content: str) -> str:
    return hashlib.sha256(f"{previous_hash}\n{content}".encode()).hexdigest()


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """Field by field, [old, new] for each field whose value differs (None for a field that was not there)."""
    before = before or {}
    after = after or {}
    found: dict[str, list[Any]] = {}
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if canonical(old) != canonical(new):
            found[name] = [old, new]
    return found


def record(
    connection: sa.Connection,
    actor: Actor,
    operation: str,
    target_type: str,
    target_id: int | None,
    *,
    changes: Mapping[str, Any] | None = None,
    reason: str = "",
    details: Mapping[str, Any] | None = None,
) -> int:
    """Append an entry to the chain in the connection's transaction; its seq."""
    now = utcnow()
    user = actor.user
    head = _lock_head(connection)
    seq = head.seq + 1
    content = canonical(
        {
            "seq": seq,
            "at": now.isoformat(),
            "user_id": actor.user_id,
            "user_email": user.email if user is not None else None,
            "token_id": actor.token_id,
            "channel": actor.channel,
            "operation": operation,
            "target_type": target_type,
            "target_id": target_id,
            "changes": dict(changes or {}),
            "reason": reason,
            **({"details": dict(details)} if details else {}),
        }
    )
    entry_hash = link_hash(head.entry_hash, content)
    connection.execute(
        sa.insert(ENTRIES),
        {
            "seq": seq,
            "created_at": now,
            "user_id": actor.user_id,
            "token_id": actor.token_id,
            "channel": actor.channel,
            "operation": operation,
            "target_type": target_type,
            "target_id": target_id,
            "content": content,
            "previous_hash": head.entry_hash,
            "entry_hash": entry_hash,
        },
    )
    connection.execute(sa.update(HEAD).where(HEAD.c.id == _HEAD_ID).values(seq=seq, entry_hash=entry_hash))
    return seq


def _lock_head(connection: sa.Connection) -> Any:
    """The head row, locked until the transaction ends (made when the chain is empty).

    The insert that makes it is a write, which on SQLite takes the database's write lock first; on
    PostgreSQL SELECT … FOR UPDATE waits for any other transaction appending, then reads what it committed.
    """
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(HEAD)
    connection.execute(
        insert.values(id=_HEAD_ID, seq=0, entry_hash=GENESIS).on_conflict_do_nothing(index_elements=["id"])
    )
    query = sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == _HEAD_ID).with_for_update()
    return connection.execute(query).one()


# -- verifying and exporting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    """What `verify` found: how many entries, the head hash, and the first broken link (None if none)."""

    count: int
    head_hash: str
    broken_at: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_at is None


_BATCH = 2000


def entries(connection: sa.Connection) -> Iterator[sa.Row[Any]]:
    """Every entry in chain order, read a batch at a time."""
    last = 0
    while True:
        batch = connection.execute(
            sa.select(ENTRIES).where(ENTRIES.c.seq > last).order_by(ENTRIES.c.seq).limit(_BATCH)
        ).all()
        yield from batch
        if len(batch) < _BATCH:
            return
        last = batch[-1].seq


def verify(connection: sa.Connection) -> Verification:
    """Walk the chain from its first entry; stop at the first link that does not hold."""
    previous, expected, count = GENESIS, 1, 0
    for entry in entries(connection):
        problem = _link_problem(entry, previous, expected)
        if problem:
            return Verification(count, previous, broken_at=expected, problem=problem)
        previous, expected, count = entry.entry_hash, expected + 1, count + 1
    head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == _HEAD_ID)).first()
    head_seq, head_hash = (head.seq, head.entry_hash) if head is not None else (0, GENESIS)
    if (head_seq, head_hash) != (count, previous):
        return Verification(
            count,
            previous,
            broken_at=count + 1 if head_seq > count else count,
            problem=(
                f"the chain's head says {head_seq} entries ending in {head_hash[:12]}…, but the entries "
                f"end at {count} with {previous[:12]}… (the last entries were removed or replaced)"
            ),
        )
    return Verification(count, previous)


def _link_problem(entry: sa.Row[Any], previous: str, expected: int) -> str:
    if entry.seq != expected:
        return f"entry {expected} is missing (the next entry is {entry.seq}): removed"
    if entry.previous_hash != previous:
        return (
            f"entry {expected} does not link to the entry before it (its previous hash is "
            f"{entry.previous_hash[:12]}…, not {previous[:12]}…): entries removed, inserted or reordered"
        )
    if link_hash(previous, entry.content) != entry.entry_hash:
        return f"entry {expected}'s content does not match its hash: it was changed after it was written"
    try:
        content = json.loads(entry.content)
    except ValueError:
        return f"entry {expected}'s content is not JSON"
    if content.get("seq") != entry.seq:
        return f"entry {expected}'s content names another place in the chain ({content.get('seq')})"
    for name in _REPEATED:
        if content.get(name) != getattr(entry, name):
            return (
                f"entry {expected}'s {name} column ({getattr(entry, name)!r}) is not what its content says "
                f"({content.get(name)!r}): the column was changed after the entry was written"
            )
    return ""


def export_lines(connection: sa.Connection) -> Iterator[str]:
    """The chain as JSON Lines: one line per entry (seq, previous and own hash, content), then its head."""
    count, previous = 0, GENESIS
    for entry in entries(connection):
        yield canonical(
            {
                "seq": entry.seq,
                "previous_hash": entry.previous_hash,
                "entry_hash": entry.entry_hash,
                "content": json.loads(entry.content),
            }
        )
        count, previous = entry.seq, entry.entry_hash
    yield canonical({"head": {"count": count, "entry_hash": previous}})

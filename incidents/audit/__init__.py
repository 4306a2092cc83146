"""The audit trail: every change the services make, who made it, when, through which channel, and why.

Each entry is a link of a hash chain. Its canonical content (sorted JSON) names its place (`seq`), the time,
the account and API token, the channel, the operation, its target, the values before and after, field by
field, and the reason; its hash is the SHA-256 of the previous entry's hash and the digest of this content
(audit.digest: built from the digests of its parts, so that an erasure can replace a part by a tombstone
carrying its digest and leave every link as it was). Changing an entry, removing one or reordering them, or
erasing part of one outside an erasure, breaks the chain at that entry: `verify` walks it and names the first
broken link, and `export` writes it as JSON Lines with its head, so that a copy kept elsewhere can be
compared. Appending takes the lock of the chain's head row (audit_head) in the writer's transaction, so two
saves committing at once never fork the chain: the second waits for the first, and links after it.

Never passwords, token secrets or session ids: the services pass snapshots that hold none.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from incidents.audit.digest import content_digest, is_tombstone, link_hash
from incidents.models import AuditEntry, AuditHead, User
from incidents.models.columns import utcnow

__all__ = [
    "COMMAND_LINE",
    "SYSTEM",
    "Actor",
    "Channel",
    "Verification",
    "canonical",
    "changes",
    "erase_parts",
    "export_lines",
    "is_tombstone",
    "link_hash",
    "next_seq",
    "record",
    "runs",
    "verify",
]

ENTRIES = cast(sa.Table, AuditEntry.__table__)
HEAD = cast(sa.Table, AuditHead.__table__)
GENESIS = "0" * 64  # the previous hash of the first entry
_HEAD_ID = 1
# The columns that repeat the content, for queries; verify checks they agree with it.
_REPEATED = ("user_id", "token_id", "channel", "operation", "target_type", "target_id")
# What an erasure's entry (operation "….erase") names in its details: the entries it erased parts of, as runs
# [first, last] of their seqs. A tombstone is accepted only where the erasure it names says so.
ERASED_ENTRIES = "erased_entries"


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


def runs(ids: Iterable[int]) -> list[list[int]]:
    """Ids as runs [first, last], in the order given: an import's ids, or the entries an erasure names, are
    mostly a few runs, however many."""
    found: list[list[int]] = []
    for number in ids:
        if found and number == found[-1][1] + 1:
            found[-1][1] = number
        else:
            found.append([number, number])
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
    digest = content_digest(content)
    entry_hash = link_hash(head.entry_hash, digest)
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
            "content_digest": digest,
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


# -- erasing -------------------------------------------------------------------------------------------------


def next_seq(connection: sa.Connection) -> int:
    """The seq the next entry appended in this transaction will get; the chain's head stays locked until the
    transaction ends, so no other writer can take it (an erasure names it in the tombstones it leaves before
    it writes its own entry)."""
    return int(_lock_head(connection).seq) + 1


def erase_parts(
    connection: sa.Connection, seq: int, change: Callable[[dict[str, Any]], dict[str, Any]]
) -> bool:
    """Replace entry seq's content by change(content): the same content with parts replaced by tombstones
    (audit.digest.tombstone, naming an erasure whose entry must then name seq among its ERASED_ENTRIES);
    whether anything changed.

    The entry's digest, and so its hash and every link after it, must stay what it was: checked here.
    """
    row = connection.execute(
        sa.select(ENTRIES.c.content, ENTRIES.c.content_digest).where(ENTRIES.c.seq == seq)
    ).one()
    content = json.loads(row.content)
    kept = change(content)
    if kept == content:
        return False
    text = canonical(kept)
    if content_digest(text) != row.content_digest:
        raise ValueError(f"erasing parts of audit entry {seq} would change its digest: only tombstones may")
    connection.execute(sa.update(ENTRIES).where(ENTRIES.c.seq == seq).values(content=text))
    return True


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
    erasures = _Erasures(connection)
    for entry in entries(connection):
        tombstones: list[dict[str, Any]] = []
        problem = _link_problem(entry, previous, expected, tombstones) or erasures.problem(entry, tombstones)
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


def _link_problem(entry: sa.Row[Any], previous: str, expected: int, tombstones: list[dict[str, Any]]) -> str:
    if entry.seq != expected:
        return f"entry {expected} is missing (the next entry is {entry.seq}): removed"
    if entry.previous_hash != previous:
        return (
            f"entry {expected} does not link to the entry before it (its previous hash is "
            f"{entry.previous_hash[:12]}…, not {previous[:12]}…): entries removed, inserted or reordered"
        )
    try:
        content = json.loads(entry.content)
        digest = content_digest(entry.content, tombstones)
    except (ValueError, KeyError, TypeError):
        return f"entry {expected}'s content is not JSON"
    if digest != entry.content_digest or link_hash(previous, digest) != entry.entry_hash:
        return f"entry {expected}'s content does not match its hash: it was changed after it was written"
    if not isinstance(content, dict) or content.get("seq") != entry.seq:
        found = content.get("seq") if isinstance(content, dict) else None
        return f"entry {expected}'s content names another place in the chain ({found})"
    for name in _REPEATED:
        if content.get(name) != getattr(entry, name):
            return (
                f"entry {expected}'s {name} column ({getattr(entry, name)!r}) is not what its content says "
                f"({content.get(name)!r}): the column was changed after the entry was written"
            )
    return ""


class _Erasures:
    """The erasures tombstones name, read when first named: the entries each says it erased parts of."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.named: dict[int, set[int] | None] = {}

    def problem(self, entry: sa.Row[Any], tombstones: list[dict[str, Any]]) -> str:
        """What is wrong with the entry's tombstones: each must name a later erasure that names the entry.
        (That erasure's own content is checked when the walk reaches it.)"""
        for by in (t["erasure_seq"] for t in tombstones):
            if not isinstance(by, int) or isinstance(by, bool) or by <= entry.seq:
                return f"entry {entry.seq} holds values erased by entry {by!r}, which is not a later entry"
            if entry.seq not in (self._named_by(by) or ()):
                return (
                    f"entry {entry.seq} holds erased values that entry {by} does not say it erased: values "
                    "were removed from the entry outside an erasure"
                )
        return ""

    def _named_by(self, seq: int) -> set[int] | None:
        if seq not in self.named:
            row = self.connection.execute(
                sa.select(ENTRIES.c.operation, ENTRIES.c.content).where(ENTRIES.c.seq == seq)
            ).first()
            self.named[seq] = _erased_entries(row) if row is not None else None
        return self.named[seq]


def _erased_entries(row: Any) -> set[int] | None:
    """The entries an erasure's entry names (None for an entry that is no erasure, or names none)."""
    if not row.operation.endswith(".erase"):
        return None
    try:
        runs = json.loads(row.content)["details"][ERASED_ENTRIES]
        return {seq for first, last in runs for seq in range(int(first), int(last) + 1)}
    except (ValueError, KeyError, TypeError):
        return None


def export_lines(connection: sa.Connection) -> Iterator[str]:
    """The chain as JSON Lines: one line per entry (seq, previous hash, content digest, own hash, content),
    then its head."""
    count, previous = 0, GENESIS
    for entry in entries(connection):
        yield canonical(
            {
                "seq": entry.seq,
                "previous_hash": entry.previous_hash,
                "content_digest": entry.content_digest,
                "entry_hash": entry.entry_hash,
                "content": json.loads(entry.content),
            }
        )
        count, previous = entry.seq, entry.entry_hash
    yield canonical({"head": {"count": count, "entry_hash": previous}})

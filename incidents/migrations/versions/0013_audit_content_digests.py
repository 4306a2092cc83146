"""audit entries linked on their content's digest, so that an erasure can leave tombstones

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 10:00:00

Until now an entry's hash was the SHA-256 of the previous hash and the content's bytes: no part of an entry
could ever be removed without breaking the chain. From this revision it is the SHA-256 of the previous hash
and the content's digest (`content_digest`), built from the digests of its parts (incidents.audit.digest),
so that an erasure may replace a part by a tombstone carrying that part's digest.

Every existing link is computed again, in chain order, from the entries as they are: the chain then holds as
it held before, under the new rule. A chain that was already broken stays broken at the same entry: links
are recomputed only up to its first broken link (an entry changed, removed or reordered), never past it, so
that the upgrade cannot make a tampered chain look whole; the head moves only when the whole chain held.
Every entry's hash changes: a copy exported before the upgrade is checked with the rule of its time (the
content of each line is the same).

The rules are written out here, not imported, so that this revision means the same whatever the code
becomes.
"""

import hashlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

GENESIS = "0" * 64
_BATCH = 2000

ENTRIES = sa.table(
    "audit_entries",
    sa.column("seq", sa.Integer),
    sa.column("content", sa.Text),
    sa.column("content_digest", sa.String),
    sa.column("previous_hash", sa.String),
    sa.column("entry_hash", sa.String),
)
HEAD = sa.table(
    "audit_head", sa.column("id", sa.Integer), sa.column("seq", sa.Integer), sa.column("entry_hash")
)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(value: Any) -> str:
    """The digest of revision 0013 (incidents.audit.digest.digest, as it was written then)."""
    if (
        isinstance(value, dict)
        and value.keys() == {"digest", "erased", "erasure_seq"}
        and value["erased"] is True
    ):
        return str(value["digest"])
    if isinstance(value, dict):
        parts = [b"{"]
        for key in sorted(value):
            parts += (_json(key).encode(), _digest(value[key]).encode())
    elif isinstance(value, list):
        parts = [b"[", *(_digest(item).encode() for item in value)]
    else:
        parts = [b"=", _json(value).encode()]
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _linked_on_content(previous: str, content: str, _digest_: str) -> str:
    """The link of revisions 0009 to 0011: the previous hash and the content's bytes."""
    return hashlib.sha256(f"{previous}\n{content}".encode()).hexdigest()


def _linked_on_digest(previous: str, _content: str, digest: str) -> str:
    """The link from revision 0013 on: the previous hash and the content's digest."""
    return hashlib.sha256(f"{previous}\n{digest}".encode()).hexdigest()


Rule = Callable[[str, str, str], str]  # (previous hash, content, content digest) → the entry's hash


def _entries(connection: sa.Connection) -> Iterator[Any]:
    last = 0
    while True:
        query = (
            sa.select(ENTRIES.c.seq, ENTRIES.c.content, ENTRIES.c.previous_hash, ENTRIES.c.entry_hash)
            .where(ENTRIES.c.seq > last)
            .order_by(ENTRIES.c.seq)
            .limit(_BATCH)
        )
        batch = connection.execute(query).all()
        yield from batch
        if len(batch) < _BATCH:
            return
        last = batch[-1].seq


def _relink(old_rule: Rule, new_rule: Rule) -> None:
    """Compute every link again with new_rule, in chain order, while the chain holds under old_rule; from
    the first link that does not, leave the hashes as they are (the break stays where it was)."""
    connection = op.get_bind()
    old_previous, new_previous, expected, holds = GENESIS, GENESIS, 1, True
    rows: list[dict[str, Any]] = []
    for entry in _entries(connection):
        try:
            digest = _digest(json.loads(entry.content))
        except ValueError:
            digest = ""  # not JSON: broken already, and a break under either rule
        holds = holds and (
            digest != ""
            and entry.seq == expected
            and entry.previous_hash == old_previous
            and old_rule(old_previous, entry.content, digest) == entry.entry_hash
        )
        row = {"key": entry.seq, "new_digest": digest}
        if holds:
            row["new_previous"], row["new_hash"] = new_previous, new_rule(new_previous, entry.content, digest)
            old_previous, new_previous = entry.entry_hash, row["new_hash"]
        else:
            row["new_previous"], row["new_hash"] = entry.previous_hash, entry.entry_hash
        rows.append(row)
        expected += 1
        if len(rows) >= _BATCH:
            _write(connection, rows)
    _write(connection, rows)
    head = connection.execute(sa.select(HEAD.c.seq, HEAD.c.entry_hash).where(HEAD.c.id == 1)).first()
    if holds and head is not None and (head.seq, head.entry_hash) == (expected - 1, old_previous):
        connection.execute(sa.update(HEAD).where(HEAD.c.id == 1).values(entry_hash=new_previous))


def _write(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Write the rows' digests and links, then empty the list."""
    if rows:
        connection.execute(
            ENTRIES.update()
            .where(ENTRIES.c.seq == sa.bindparam("key"))
            .values(
                content_digest=sa.bindparam("new_digest"),
                previous_hash=sa.bindparam("new_previous"),
                entry_hash=sa.bindparam("new_hash"),
            ),
            rows,
        )
    rows.clear()


def upgrade() -> None:
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_digest", sa.String(length=64), nullable=True))
    _relink(_linked_on_content, _linked_on_digest)
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.alter_column("content_digest", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    # Tombstones left by erasures stay: the content as it is now is what the older rule links on.
    _relink(_linked_on_digest, _linked_on_content)
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_column("content_digest")

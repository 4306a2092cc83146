from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base
from incidents.models.columns import Timestamp


class AuditEntry(Base):
    """One change, as the audit trail keeps it: a link of a hash chain (incidents.audit).

    `content` is the entry's canonical JSON (who, when, through which channel, the operation, its target,
    the values before and after, the reason); `content_digest` its digest, built from the digests of its
    parts (incidents.audit.digest); `entry_hash` is the SHA-256 of the previous entry's hash and that digest,
    so that changing, removing or reordering any entry breaks every link after it, while an erasure may
    replace parts of the content by tombstones that carry their digests. The other columns repeat what the
    content says, to be queried; `audit verify` checks that they agree.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (sa.Index("ix_audit_entries_target", "target_type", "target_id"),)

    # The entry's place in the chain: 1, 2, 3 … with no gap, given under the chain's head lock.
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_id: Mapped[int | None]
    channel: Mapped[str] = mapped_column(sa.String(20))
    operation: Mapped[str] = mapped_column(sa.String(60))
    target_type: Mapped[str] = mapped_column(sa.String(30))
    target_id: Mapped[int | None]
    content: Mapped[str] = mapped_column(sa.Text)
    content_digest: Mapped[str] = mapped_column(sa.String(64))
    previous_hash: Mapped[str] = mapped_column(sa.String(64))
    entry_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)


class AuditHead(Base):
    """The chain's last link (one row): appending locks it, so that two writers never fork the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(default=0)
    entry_hash: Mapped[str] = mapped_column(sa.String(64))

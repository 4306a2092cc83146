"""An incident's history, from the audit trail: every change, who made it, when, through what, and why."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from incidents.extensions import db
from incidents.models import AuditEntry


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: dt.datetime
    who: str  # the account's email, or "the command line"
    channel: str
    operation: str
    reason: str
    changes: dict[str, list[Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str:
        """The operation in words: "incident.publish" → "publish"."""
        return self.operation.split(".", 1)[1].replace("_", " ") if "." in self.operation else self.operation


def _entry(row: AuditEntry) -> HistoryEntry:
    return _entry_of(row.seq, row.content)


def _entry_of(seq: int, text: str) -> HistoryEntry:
    content = json.loads(text)
    return HistoryEntry(
        seq=seq,
        at=dt.datetime.fromisoformat(content["at"]),
        who=content.get("user_email") or "the command line",
        channel=content["channel"],
        operation=content["operation"],
        reason=_reason(content.get("reason", "")),
        changes=content.get("changes", {}),
        details=content.get("details", {}),
    )


def _reason(value: Any) -> str:
    """The reason as written; in words where an erasure left a tombstone (incidents.audit.digest) instead."""
    if isinstance(value, dict) and value.get("erased") is True:
        return f"(erased: audit entry {value.get('erasure_seq')})"
    return str(value)


def incident_history(incident_id: int) -> list[HistoryEntry]:
    """Every entry about the incident, oldest first."""
    query = (
        sa.select(AuditEntry)
        .where(AuditEntry.target_type == "incident", AuditEntry.target_id == incident_id)
        .order_by(AuditEntry.seq)
    )
    return [_entry(row) for row in db.session.scalars(query)]


def last_moves(incident_ids: list[int]) -> dict[int, HistoryEntry]:
    """The last change of status of each incident (who submitted, published …), by id."""
    if not incident_ids:
        return {}
    query = (
        sa.select(AuditEntry)
        .where(
            AuditEntry.target_type == "incident",
            AuditEntry.target_id.in_(incident_ids),
            AuditEntry.operation.in_(
                ["incident.submit", "incident.send_back", "incident.publish", "incident.retract"]
            ),
        )
        .order_by(AuditEntry.seq)
    )
    found: dict[int, HistoryEntry] = {}
    for row in db.session.scalars(query):
        if row.target_id is not None:
            found[row.target_id] = _entry(row)
    return found


# The operations that may carry a correction note: the saves of services.incidents.update_loaded.
_CORRECTING = ("incident.update", "incident.merge")
# Built once: every public incident page asks it.
_CORRECTIONS = (
    sa.select(AuditEntry.seq, AuditEntry.content)
    .where(
        AuditEntry.target_type == "incident",
        AuditEntry.target_id == sa.bindparam("incident_id"),
        AuditEntry.operation.in_(_CORRECTING),
    )
    .order_by(AuditEntry.seq)
)


def may_have_corrections(incident_id: Any) -> sa.Exists:
    """Whether the incident (the column or value incident_id) has an entry that may carry a correction
    note: without one, corrections() has nothing to find (an incident imported, or never saved again)."""
    return sa.exists().where(
        AuditEntry.target_type == "incident",
        AuditEntry.target_id == incident_id,
        AuditEntry.operation.in_(_CORRECTING),
    )


def corrections(incident_id: int) -> list[HistoryEntry]:
    """The changes of the incident's figures made while it was published: the public's correction notes."""
    rows = db.session.connection().execute(_CORRECTIONS, {"incident_id": incident_id})
    found = (_entry_of(seq, content) for seq, content in rows)
    return [entry for entry in found if entry.details.get("correction")]

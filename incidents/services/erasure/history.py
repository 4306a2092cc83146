"""The erased content's copies in the audit trail, replaced by tombstones (incidents.audit.digest).

Three kinds of copies, each found by what the trail says, never by guessing at text:
- every entry about an erased thing (an incident, a source, a location rule on an erased source): its values
  before and after, its reason and its details; who, when, through what and the operation stay;
- in the history of other incidents, each citation of an erased source (its locator, quote, claims and the
  source's title): that citation only;
- the app's own messages that quote an erased title between “ and ”, where the app writes them: a refused
  attempt's message (a publication refused because of a possible duplicate names the other incident), and
  the history of an incident that a merge retracted into an erased one (its note names that one): that
  value only. Text a person typed elsewhere is never searched.
The entries of erasures themselves are never touched: they are what makes the tombstones verifiable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from incidents import audit
from incidents.audit.digest import parts_erased, tombstone
from incidents.models import AuditEntry

ENTRIES = cast(sa.Table, AuditEntry.__table__)
# What an entry holds of the change it records: replaced whole in the entries about an erased thing.
VALUES = ("changes", "reason", "details")


@dataclass
class Erased:
    """What an erasure removes, as the audit trail names it."""

    targets: set[tuple[str, int]] = field(default_factory=set)  # (target_type, target_id)
    source_ids: set[int] = field(default_factory=set)
    public_ids: set[str] = field(default_factory=set)  # of the incidents erased
    titles: set[str] = field(default_factory=set)  # every title an erased incident or source had
    # Where the app may have quoted an erased title: refused attempts, and the incidents a merge retracted
    # into an erased incident (found by erase_copies).
    quoting: set[tuple[str, int]] = field(default_factory=set)

    @property
    def quoted(self) -> list[str]:
        """The titles as the app's messages quote them."""
        return sorted(f"“{title}”" for title in self.titles if title)


def titles_in_history(connection: sa.Connection, target_type: str, target_id: int) -> set[str]:
    """Every title the trail says this incident or source had (renamed ones too)."""
    titles: set[str] = set()
    query = sa.select(ENTRIES.c.content).where(_about({(target_type, target_id)}))
    for content in connection.scalars(query):
        change = json.loads(content).get("changes", {})
        if isinstance(change, dict) and isinstance(change.get("title"), list):
            titles.update(value for value in change["title"] if isinstance(value, str))
    return titles


def erase_copies(connection: sa.Connection, erased: Erased, by: int) -> list[int]:
    """Leave tombstones naming the erasure `by` wherever the trail holds what is erased; the entries changed,
    in order."""
    changed = []
    for seq in sorted(_candidates(connection, erased)):
        if audit.erase_parts(connection, seq, _change(erased, by)):
            changed.append(seq)
    return changed


def _about(targets: Collection[tuple[str, int]]) -> sa.ColumnElement[bool]:
    """The entries about these targets (the index on target_type, target_id finds them)."""
    if not targets:
        return sa.false()
    return sa.or_(
        *(sa.and_(ENTRIES.c.target_type == kind, ENTRIES.c.target_id == key) for kind, key in targets)
    )


def _candidates(connection: sa.Connection, erased: Erased) -> set[int]:
    """The entries that may hold something erased: about an erased thing (by the index on the target), whose
    text holds an erased source's citation (a scan of the trail), or where the app quoted an erased title
    (refused attempts, found by their operation, and the history of incidents merged into an erased one)."""
    not_erasures = ~ENTRIES.c.operation.like("%.erase")
    found: set[int] = set()
    if erased.targets:
        found.update(connection.scalars(sa.select(ENTRIES.c.seq).where(_about(erased.targets), not_erasures)))
    # The canonical JSON of a citation in an incident's snapshot ends with its source's id.
    citations = [f'"source_id":{source_id}}}' for source_id in sorted(erased.source_ids)]
    if citations:
        query = sa.select(ENTRIES.c.seq).where(
            ENTRIES.c.target_type == "incident", _holds(connection, citations)
        )
        found.update(connection.scalars(query))
    quoted = [json.dumps(text, ensure_ascii=False)[1:-1] for text in erased.quoted]
    if quoted:
        erased.quoting = _merged_into(connection, erased.public_ids)
        where = sa.or_(ENTRIES.c.operation.like("%.refused"), _about(erased.quoting))
        found.update(connection.scalars(sa.select(ENTRIES.c.seq).where(where, _holds(connection, quoted))))
    return found


def _holds(connection: sa.Connection, texts: list[str]) -> sa.ColumnElement[bool]:
    """The entry's text holds one of these (as they appear in its JSON)."""
    position = sa.func.strpos if connection.dialect.name == "postgresql" else sa.func.instr
    return sa.or_(*(position(ENTRIES.c.content, text) > 0 for text in texts))


def _merged_into(connection: sa.Connection, public_ids: set[str]) -> set[tuple[str, int]]:
    """The incidents a merge retracted into one of these (services.duplicates writes the reason)."""
    if not public_ids:
        return set()
    reasons = [f'"reason":"Merged into incident {public_id}."' for public_id in sorted(public_ids)]
    query = sa.select(ENTRIES.c.target_id).where(
        ENTRIES.c.operation == "incident.retract", _holds(connection, reasons)
    )
    return {("incident", incident_id) for incident_id in connection.scalars(query) if incident_id is not None}


def _change(erased: Erased, by: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What an entry's content becomes: tombstones naming the erasure `by` for what it holds of erased."""
    quoted = erased.quoted

    def change(content: dict[str, Any]) -> dict[str, Any]:
        target = (content.get("target_type"), content.get("target_id"))
        quoting = target in erased.quoting or str(content.get("operation", "")).endswith(".refused")

        def picked(part: Any) -> bool:
            if isinstance(part, dict):
                return "claims" in part and part.get("source_id") in erased.source_ids
            return quoting and isinstance(part, str) and any(text in part for text in quoted)

        if target in erased.targets:
            content = {
                name: tombstone(value, by) if name in VALUES and value not in (None, "", {}) else value
                for name, value in content.items()
            }
        return cast(dict[str, Any], parts_erased(content, picked, by))

    return change

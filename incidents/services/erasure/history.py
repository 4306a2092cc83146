"""The erased content's copies in the audit trail, replaced by tombstones (incidents.audit.digest).

Three kinds of copies, each found by what the trail says, never by guessing at text:
- every entry about an erased thing (an incident, a source, a location rule on an erased source): its values
  before and after, its reason and its details; who, when, through what and the operation stay;
- in the history of other incidents, each citation of an erased source (its locator, quote, claims and the
  source's title): that citation only;
- the app's own messages that quote an erased title between “ and ” (a publication refused because of a
  possible duplicate, a merge's note naming the incident merged into, a merge asking to confirm sources):
  that message, or that value, only.
The entries of erasures themselves are never touched: they are what makes the tombstones verifiable.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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
    titles: set[str] = field(default_factory=set)  # every title an erased incident or source had

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


def _about(targets: Iterable[tuple[str, int]]) -> sa.ColumnElement[bool]:
    """The entries about these targets (the index on target_type, target_id finds them)."""
    return sa.or_(
        *(sa.and_(ENTRIES.c.target_type == kind, ENTRIES.c.target_id == key) for kind, key in targets)
    )


def _candidates(connection: sa.Connection, erased: Erased) -> set[int]:
    """The entries that may hold something erased: about an erased thing (by the index on the target), or
    whose text holds an erased source's citation or a quoted title (a scan of the trail)."""
    not_erasures = ~ENTRIES.c.operation.like("%.erase")
    found: set[int] = set()
    if erased.targets:
        found.update(connection.scalars(sa.select(ENTRIES.c.seq).where(_about(erased.targets), not_erasures)))
    # The canonical JSON of a citation in an incident's snapshot ends with its source's id.
    patterns = [f'"source_id":{source_id}}}' for source_id in sorted(erased.source_ids)]
    patterns += [json.dumps(text, ensure_ascii=False)[1:-1] for text in erased.quoted]
    if patterns:
        position = sa.func.strpos if connection.dialect.name == "postgresql" else sa.func.instr
        holds = sa.or_(*(position(ENTRIES.c.content, pattern) > 0 for pattern in patterns))
        found.update(connection.scalars(sa.select(ENTRIES.c.seq).where(holds, not_erasures)))
    return found


def _change(erased: Erased, by: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """What an entry's content becomes: tombstones naming the erasure `by` for what it holds of erased."""
    quoted = erased.quoted

    def picked(part: Any) -> bool:
        if isinstance(part, dict):
            return "claims" in part and part.get("source_id") in erased.source_ids
        return isinstance(part, str) and any(text in part for text in quoted)

    def change(content: dict[str, Any]) -> dict[str, Any]:
        if (content.get("target_type"), content.get("target_id")) in erased.targets:
            content = {
                name: tombstone(value, by) if name in VALUES and value not in (None, "", {}) else value
                for name, value in content.items()
            }
        return cast(dict[str, Any], parts_erased(content, picked, by))

    return change

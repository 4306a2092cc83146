"""Erasure: an incident or a source removed for good (a witness withdraws consent), not retracted.

Retraction hides a record and keeps it; erasure removes it and every copy the database keeps of it:
- an incident: its row, citations, claims, estimates, type links, possible-duplicate flags, stored record and
  its place in the map's rollup (derived.refresh); the note naming it that a merge left on another incident;
- a source: its row, its citations and their claims in every incident (whose ranges, public locations, map
  cells and stored records are then computed again), and the location rules on it;
- in the audit trail, what it held of them, replaced by tombstones (services.erasure.history), and one entry,
  `incident.erase` or `source.erase`, naming the target's id, the reason and the entries it left tombstones
  in, and nothing of what was erased.
An incident's sources are kept: a source may be a public report that other work cites, or cited again later.
With `with_sources`, the sources that only this incident cites are erased with it (a witness's testimony
recorded for this incident alone). Either way the sources no incident cites any more are named, for an admin
to decide.

Only an admin erases, with a reason. Nothing here commits; after the caller's commit, `storage.purge` makes
the database's files forget the text (SQLite's secure_delete, which every connection has on, zeroes what was
deleted; the purge empties the write-ahead log; on PostgreSQL it VACUUMs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from marshmallow import ValidationError

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    Citation,
    DuplicateFlag,
    Incident,
    LocationRule,
    Source,
    StoredRecord,
)
from incidents.models.columns import utcnow
from incidents.services.erasure.history import Erased, erase_copies, titles_in_history
from incidents.services.erasure.storage import Purge, purge_files, secure_delete_on
from incidents.services.refresh import before_change, refresh

__all__ = [
    "Erasure",
    "ErasureRefused",
    "Purge",
    "erase_incident",
    "erase_source",
    "find_incident",
    "purge",
    "sources_only_cited_by",
]

REASON_LENGTH = 2000
INCIDENTS = cast(sa.Table, Incident.__table__)


class ErasureRefused(Exception):
    """Not erased, and why; status is the HTTP status it answers to (403: not an admin)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Erasure:
    """What an erasure did: its audit entry, what it removed, what it changed, what it left."""

    seq: int  # the erasure's audit entry (0 until the trail's head is locked for it)
    incidents: list[int] = field(default_factory=list)  # erased
    sources: list[int] = field(default_factory=list)  # erased
    changed: list[int] = field(default_factory=list)  # incidents that lost citations or a note naming one
    entries: list[int] = field(default_factory=list)  # audit entries left with tombstones
    orphaned_sources: list[int] = field(default_factory=list)  # kept, though no incident cites them now


def find_incident(ref: str) -> Incident | None:
    """The incident a reference names: its public id, or its number (the database's id)."""
    ref = ref.strip().lower()
    if ref.isdigit():
        return db.session.get(Incident, int(ref))
    return db.session.scalars(sa.select(Incident).where(Incident.public_id == ref)).one_or_none()


def sources_only_cited_by(incident: Incident) -> list[Source]:
    """The sources this incident cites that no other incident cites (what `with_sources` would erase)."""
    cited = sorted({citation.source_id for citation in incident.citations})
    shared = sa.select(Citation.source_id).where(
        Citation.source_id.in_(cited), Citation.incident_id != incident.id
    )
    others = set(db.session.scalars(shared))
    return [db.session.get_one(Source, source_id) for source_id in cited if source_id not in others]


def erase_incident(incident: Incident, actor: Actor, *, reason: str, with_sources: bool = False) -> Erasure:
    """Erase the incident and every copy of it (see the module); with_sources, the sources only it cites."""
    connection = db.session.connection()
    incident_id, public_id = incident.id, incident.public_id
    erased = Erased(targets={("incident", incident_id)}, public_ids={public_id})
    erased.titles = {incident.title} | titles_in_history(connection, "incident", incident_id)
    going = {source.title for source in sources_only_cited_by(incident)} if with_sources else set()
    reason = _checked(actor, reason, erased.titles | going)
    secure_delete_on(connection)
    cited = sorted({citation.source_id for citation in incident.citations})
    before = before_change([incident_id])
    db.session.execute(
        sa.delete(DuplicateFlag).where(
            sa.or_(DuplicateFlag.incident_id == incident_id, DuplicateFlag.candidate_id == incident_id)
        )
    )
    db.session.execute(sa.delete(StoredRecord).where(StoredRecord.incident_id == incident_id))
    db.session.delete(incident)  # its citations, claims, estimates and type links with it
    db.session.flush()
    refresh([incident_id], before)
    done = Erasure(0, incidents=[incident_id])
    done.changed = _unname_in_merge_notes(public_id, actor)
    orphans = _uncited(cited)
    if with_sources:
        done.sources, _ = _remove_sources(orphans, erased, actor)
    else:
        done.orphaned_sources = orphans
    _erase_copies(connection, erased, done)
    _record(connection, actor, "incident.erase", "incident", incident_id, reason, done, public_id=public_id)
    return done


def erase_source(source: Source, actor: Actor, *, reason: str) -> Erasure:
    """Erase the source, its citations and claims in every incident, and every copy of them."""
    connection = db.session.connection()
    source_id = source.id
    erased = Erased()
    erased.titles = {source.title} | titles_in_history(connection, "source", source_id)
    reason = _checked(actor, reason, erased.titles)
    secure_delete_on(connection)
    done = Erasure(0)
    done.sources, done.changed = _remove_sources([source_id], erased, actor)
    _erase_copies(connection, erased, done)
    _record(connection, actor, "source.erase", "source", source_id, reason, done)
    return done


def _checked(actor: Actor, reason: str, titles: set[str]) -> str:
    """The reason, stripped, if this actor may erase with it; ErasureRefused or ValidationError otherwise."""
    if actor.user is None or not actor.user.is_admin:
        raise ErasureRefused(
            "Erasing is an admin's decision: it cannot be undone, and the audit trail names the admin who "
            "took it. Retract the incident instead, or ask an admin."
        )
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["Say why this is erased: the audit trail keeps the reason."]})
    if len(reason) > REASON_LENGTH:
        raise ValidationError({"reason": [f"At most {REASON_LENGTH} characters."]})
    if any(len(title) >= 8 and title.casefold() in reason.casefold() for title in titles):
        raise ValidationError(
            {"reason": ["Do not repeat the title in the reason: the reason is kept after the erasure."]}
        )
    return reason


def _uncited(source_ids: list[int]) -> list[int]:
    """Those of these sources that no incident cites."""
    if not source_ids:
        return []
    cited = set(db.session.scalars(sa.select(Citation.source_id).where(Citation.source_id.in_(source_ids))))
    return [source_id for source_id in source_ids if source_id not in cited]


def _remove_sources(source_ids: list[int], erased: Erased, actor: Actor) -> tuple[list[int], list[int]]:
    """Delete these sources, their citations and claims, and the location rules on them; bring the incidents
    that cited them up to date (a new version, derived data computed again). The sources erased, and the
    incidents that cited them."""
    if not source_ids:
        return [], []
    connection = db.session.connection()
    for source_id in source_ids:
        source = db.session.get_one(Source, source_id)
        erased.titles |= {source.title} | titles_in_history(connection, "source", source_id)
        erased.targets.add(("source", source_id))
    erased.source_ids.update(source_ids)
    rules = list(db.session.scalars(sa.select(LocationRule.id).where(LocationRule.source_id.in_(source_ids))))
    erased.targets.update(("location_rule", rule_id) for rule_id in rules)
    citations = sa.select(Citation.id).where(Citation.source_id.in_(source_ids))
    citing = sorted(
        set(db.session.scalars(sa.select(Citation.incident_id).where(Citation.source_id.in_(source_ids))))
    )
    before = before_change(citing)
    db.session.execute(sa.delete(CasualtyClaim).where(CasualtyClaim.citation_id.in_(citations)))
    db.session.execute(sa.delete(Citation).where(Citation.source_id.in_(source_ids)))
    db.session.execute(sa.delete(LocationRule).where(LocationRule.id.in_(rules)))
    db.session.execute(sa.delete(Source).where(Source.id.in_(source_ids)))
    _new_versions(citing, actor)
    db.session.expire_all()  # objects read before the deletes would still show them
    refresh(citing, before)
    return sorted(source_ids), citing


def _new_versions(incident_ids: list[int], actor: Actor) -> None:
    """These incidents changed: a new version, so that a form opened before cannot save the erased back."""
    if incident_ids:
        db.session.execute(
            sa.update(INCIDENTS)
            .where(INCIDENTS.c.id.in_(incident_ids))
            .values(version=INCIDENTS.c.version + 1, updated_at=utcnow(), updated_by_id=actor.user_id)
        )


def _unname_in_merge_notes(public_id: str, actor: Actor) -> list[int]:
    """The note a merge left on the incident it retracted names the one it was merged into, with its title:
    the title goes. The incidents whose notes changed."""
    note = re.compile(rf"Merged into incident {re.escape(public_id)} \(“.*?”\)", re.DOTALL)
    kept = f"Merged into incident {public_id} (since erased)"
    changed = []
    holding = sa.select(Incident.id, Incident.confidential_notes).where(
        Incident.confidential_notes.contains(f"Merged into incident {public_id} (“", autoescape=True)
    )
    for incident_id, notes in db.session.execute(holding).all():
        db.session.execute(
            sa.update(INCIDENTS)
            .where(INCIDENTS.c.id == incident_id)
            .values(confidential_notes=note.sub(kept, notes))
        )
        changed.append(incident_id)
    _new_versions(changed, actor)
    db.session.expire_all()
    return changed


def _erase_copies(connection: sa.Connection, erased: Erased, done: Erasure) -> None:
    """Tombstones in the audit trail for what is erased, naming the erasure's own entry, which _record then
    writes: the chain's head is locked from here to the commit (as late as can be: on PostgreSQL every other
    save waits for it), so that no other entry can take its place."""
    done.seq = audit.next_seq(connection)
    done.entries = erase_copies(connection, erased, done.seq)


def _record(
    connection: sa.Connection,
    actor: Actor,
    operation: str,
    target_type: str,
    target_id: int,
    reason: str,
    done: Erasure,
    **details: Any,
) -> None:
    seq = audit.record(
        connection,
        actor,
        operation,
        target_type,
        target_id,
        reason=reason,
        details={
            **details,
            audit.ERASED_ENTRIES: audit.runs(done.entries),
            "incidents_erased": done.incidents,
            "sources_erased": done.sources,
            "incidents_changed": audit.runs(done.changed),
        },
    )
    if seq != done.seq:  # never: the chain's head was locked when the tombstones named it
        raise RuntimeError(f"the erasure's entry is {seq}, not the {done.seq} its tombstones name")


def purge() -> Purge:
    """After an erasure's commit, on the app's database: see services.erasure.storage."""
    return purge_files(db.engine)

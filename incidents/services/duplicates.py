"""Possible duplicates resolved by an editor: confirmed distinct, or merged.

A merge copies the other incident's citations (with their sources and claims) onto the kept one and
retracts the other, whose record stays as it was, with a note naming the kept incident. Both changes take
the road every edit takes (services.incidents).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from marshmallow import ValidationError

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import Citation, DuplicateFlag, Incident, Source
from incidents.schemas.errors import flatten
from incidents.schemas.incident import incident_input
from incidents.services import workflow
from incidents.services.incidents import load_input, update_loaded
from incidents.services.refresh import before_change, refresh
from incidents.vocabulary import DuplicateStatus, PublicationStatus


class ResolutionError(Exception):
    """The flag cannot be resolved this way; the message says why."""


class NeedsConfirmation(Exception):
    """The merge would make sources public that no published incident cites yet: the editor confirms first."""

    def __init__(self, sources: list[Source]) -> None:
        titles = "; ".join(f"“{source.title}” ({source.kind.label})" for source in sources)
        super().__init__(
            f"Merging makes {len(sources)} source(s) public that no published incident cites yet: {titles}. "
            "Merge only if they may be public."
        )
        self.sources = sources


def confirm_distinct(flag: DuplicateFlag, actor: Actor) -> None:
    _resolve(flag, DuplicateStatus.DISTINCT, actor)
    audit.record(
        db.session.connection(),
        actor,
        "duplicate.distinct",
        "incident",
        flag.incident_id,
        changes={"flag": [DuplicateStatus.OPEN.value, DuplicateStatus.DISTINCT.value]},
        details={"flag": flag.id, "incidents": [flag.candidate_id, flag.incident_id]},
    )


def merge(flag: DuplicateFlag, keep: Incident, actor: Actor, *, confirmed: bool = False) -> Incident:
    """Merge the flag's other incident into keep; returns the retracted one.

    NeedsConfirmation, before anything changes, when keep is published and the other's sources are not
    public yet (a witness's testimony cited by a draft, say), unless confirmed.
    """
    other = _mergeable(flag, keep)
    reason = f"Merged incident {other.public_id} into this one."
    workflow.check_edit(keep, actor, keep.status, reason)  # who may change keep, before asking anything
    if keep.status == PublicationStatus.PUBLISHED and not confirmed:
        hidden = _not_yet_public(other)
        if hidden:
            raise NeedsConfirmation(hidden)
    kept = incident_input(keep)
    kept["citations"] += incident_input(other)["citations"]
    try:
        merged = load_input(kept)
    except ValidationError as error:
        # The other's figures for a whole category can narrow the range (sums of figures per group count
        # only where no source gives one): this incident's best estimate may then lie outside it.
        problems = "; ".join(f"{_field(path)}: {message}" for path, message in flatten(error.messages))
        raise ResolutionError(
            f"Merged with incident {other.public_id}, this incident would not be valid ({problems}). Edit "
            "this incident first (for example its best estimate), then merge."
        ) from None
    update_loaded(keep, merged, actor, reason=reason, operation="incident.merge")
    _retract_merged(other, keep, actor)
    _resolve(flag, DuplicateStatus.MERGED, actor)
    return other


def _not_yet_public(other: Incident) -> list[Source]:
    """The sources other cites that no published incident cites (they become public with the merge)."""
    ids = {citation.source_id for citation in other.citations}
    if not ids:
        return []
    public = set(
        db.session.scalars(
            sa.select(Citation.source_id)
            .join(Incident, Incident.id == Citation.incident_id)
            .where(Citation.source_id.in_(ids), Incident.status == PublicationStatus.PUBLISHED)
        )
    )
    return [db.session.get_one(Source, i) for i in sorted(ids - public)]


def _retract_merged(other: Incident, keep: Incident, actor: Actor) -> None:
    """Retract the merged incident, its record kept as it was, with a note naming the kept one."""
    if other.status == PublicationStatus.PUBLISHED and not workflow.may_review(actor):
        raise workflow.NotAllowed("Retracting a published incident is a reviewer's step.")
    who = actor.user.email if actor.user is not None else "the command line"
    note = (
        f"Merged into incident {keep.public_id} (“{keep.title}”) by {who} on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}: its citations were copied there."
    )
    start, notes = other.status, other.confidential_notes
    before = before_change([other.id])
    other.status = PublicationStatus.RETRACTED
    other.confidential_notes = "\n\n".join(p for p in (notes, note) if p)
    db.session.flush()
    refresh([other.id], before)
    audit.record(
        db.session.connection(),
        actor,
        "incident.retract",
        "incident",
        other.id,
        changes={
            "status": [start.value, PublicationStatus.RETRACTED.value],
            "confidential_notes": [notes, other.confidential_notes],
        },
        reason=f"Merged into incident {keep.public_id}.",
    )


def _mergeable(flag: DuplicateFlag, keep: Incident) -> Incident:
    """The flag's other incident, when it may be merged into keep; ResolutionError saying why not."""
    if keep.id not in (flag.incident_id, flag.candidate_id):
        raise ResolutionError("This flag is not about that incident.")
    other = flag.other(keep.id)
    if other.status == PublicationStatus.RETRACTED:
        raise ResolutionError(f"Incident {other.public_id} is retracted already: nothing to merge.")
    if keep.status == PublicationStatus.RETRACTED:
        raise ResolutionError(
            f"This incident is retracted: merging would retract incident {other.public_id} too. Merge this "
            f"one into incident {other.public_id} instead (from its page)."
        )
    if other.status == PublicationStatus.PUBLISHED and keep.status != PublicationStatus.PUBLISHED:
        # The published one would be retracted, and the event gone from the public site behind a draft.
        raise ResolutionError(
            f"Incident {other.public_id} is published and this one is a {keep.status.label}: merging would "
            f"take the event off the public site. Merge this one into incident {other.public_id} instead "
            "(from its page), or publish this one first."
        )
    return other


def _field(path: str) -> str:
    """ "estimates.0.best" as the page names it: "best estimate"."""
    return "best estimate" if path.startswith("estimates.") and path.endswith(".best") else path


def _resolve(flag: DuplicateFlag, status: DuplicateStatus, actor: Actor) -> None:
    if flag.status != DuplicateStatus.OPEN:
        raise ResolutionError(f"This possible duplicate was resolved already ({flag.status.label}).")
    flag.status = status
    flag.resolved_at = dt.datetime.now(dt.UTC)
    flag.resolved_by_id = actor.user_id
    db.session.flush()

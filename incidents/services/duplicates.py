"""Possible duplicates resolved by an editor: confirmed distinct, or merged.

A merge copies the other incident's citations (with their sources and claims) onto the kept one and
retracts the other, whose record stays as it was, with a note naming the kept incident. Both changes take
the road every edit takes (services.incidents).
"""

from __future__ import annotations

import datetime as dt

from marshmallow import ValidationError

from incidents.extensions import db
from incidents.models import DuplicateFlag, Incident, User
from incidents.schemas.errors import flatten
from incidents.schemas.incident import incident_input
from incidents.services.incidents import load_input, update_loaded
from incidents.vocabulary import DuplicateStatus, PublicationStatus


class ResolutionError(Exception):
    """The flag cannot be resolved this way; the message says why."""


def confirm_distinct(flag: DuplicateFlag, user: User) -> None:
    _resolve(flag, DuplicateStatus.DISTINCT, user)


def merge(flag: DuplicateFlag, keep: Incident, user: User) -> Incident:
    """Merge the flag's other incident into keep; returns the retracted one."""
    other = _mergeable(flag, keep)
    kept = incident_input(keep)
    kept["citations"] += incident_input(other)["citations"]
    try:
        merged = load_input(kept)
    except ValidationError as error:
        # The other's figures for a whole category can narrow the range (sums of figures per group count
        # only where no source gives one): this incident's best estimate may then lie outside it.
        problems = "; ".join(f"{_field(path)}: {message}" for path, message in flatten(error.messages))
        raise ResolutionError(
            f"Merged with incident {other.id}, this incident would not be valid ({problems}). Edit this "
            "incident first (for example its best estimate), then merge."
        ) from None
    update_loaded(keep, merged, user)
    retracted = incident_input(other)
    note = (
        f"Merged into incident {keep.id} (“{keep.title}”) by {user.email} on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}: its citations were copied there."
    )
    retracted["status"] = PublicationStatus.RETRACTED.value
    retracted["confidential_notes"] = "\n\n".join(p for p in (retracted["confidential_notes"], note) if p)
    update_loaded(other, load_input(retracted), user)
    _resolve(flag, DuplicateStatus.MERGED, user)
    return other


def _mergeable(flag: DuplicateFlag, keep: Incident) -> Incident:
    """The flag's other incident, when it may be merged into keep; ResolutionError saying why not."""
    if keep.id not in (flag.incident_id, flag.candidate_id):
        raise ResolutionError("This flag is not about that incident.")
    other = flag.other(keep.id)
    if other.status == PublicationStatus.RETRACTED:
        raise ResolutionError(f"Incident {other.id} is retracted already: nothing to merge.")
    if keep.status == PublicationStatus.RETRACTED:
        raise ResolutionError(
            f"This incident is retracted: merging would retract incident {other.id} too. Merge this one into "
            f"incident {other.id} instead (from its page)."
        )
    if other.status == PublicationStatus.PUBLISHED and keep.status != PublicationStatus.PUBLISHED:
        # The published one would be retracted, and the event gone from the public site behind a draft.
        raise ResolutionError(
            f"Incident {other.id} is published and this one is a {keep.status.label}: merging would take the "
            f"event off the public site. Merge this one into incident {other.id} instead (from its page), or "
            "publish this one first."
        )
    return other


def _field(path: str) -> str:
    """ "estimates.0.best" as the page names it: "best estimate"."""
    return "best estimate" if path.startswith("estimates.") and path.endswith(".best") else path


def _resolve(flag: DuplicateFlag, status: DuplicateStatus, user: User) -> None:
    if flag.status != DuplicateStatus.OPEN:
        raise ResolutionError(f"This possible duplicate was resolved already ({flag.status.label}).")
    flag.status = status
    flag.resolved_at = dt.datetime.now(dt.UTC)
    flag.resolved_by_id = user.id
    db.session.flush()

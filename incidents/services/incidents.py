"""Creating, changing and retracting incidents: the one road every channel takes (form, API, demo, merge).

Each operation loads its input through IncidentInputSchema (a ValidationError names the field and the
problem), applies the rules (the workflow's among them: services.workflow), flushes, brings the derived data
up to date (derived.refresh), flags possible duplicates and writes the change to the audit trail, field by
field. Nothing here commits: the caller commits once, or rolls back on an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from incidents import audit, derived
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    DuplicateFlag,
    Incident,
    IncidentType,
    Source,
    User,
)
from incidents.models.columns import utcnow
from incidents.schemas import IncidentInputSchema
from incidents.schemas.incident import SCALAR_FIELDS, incident_input
from incidents.services import workflow
from incidents.services.conflicts import MISSING_VERSION, EditConflict
from incidents.services.duplicate_flags import flag_duplicates
from incidents.services.refresh import before_change, refresh
from incidents.services.sources import new_source
from incidents.vocabulary import LocationMethod, PublicationStatus

__all__ = [
    "MISSING_VERSION",
    "EditConflict",
    "Saved",
    "create_incident",
    "retract_incident",
    "update_incident",
]

# What of an incident its figures are: a change to any of them, once published, is a public correction.
FIGURE_FIELDS = ("citations", "estimates")


@dataclass
class Saved:
    """A saved incident, and the possible duplicates this save flagged (for the editor to be told)."""

    incident: Incident
    flagged: list[DuplicateFlag] = field(default_factory=list)


def load_input(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The incident input loaded by the schema; ValidationError with the problems by field otherwise."""
    loaded: dict[str, Any] = IncidentInputSchema().load(raw)
    return loaded


def create_incident(raw: Mapping[str, Any], actor: Actor) -> Saved:
    """A new incident from input (plain JSON types, as the form, the API and the demo give it): a draft,
    or submitted for review."""
    return create_loaded(load_input(raw), actor)


def create_loaded(data: dict[str, Any], actor: Actor) -> Saved:
    """A new incident from input already loaded by the schema."""
    workflow.check_initial(data["status"])
    incident = Incident(created_by=actor.user)
    db.session.add(incident)
    _apply(incident, data, actor.user)
    db.session.flush()
    refresh([incident.id], derived.NEW)
    flagged = flag_duplicates(incident)
    audit.record(
        db.session.connection(),
        actor,
        "incident.create",
        "incident",
        incident.id,
        changes=audit.changes(None, snapshot(incident)),
    )
    return Saved(incident, flagged)


def update_incident(incident: Incident, raw: Mapping[str, Any], actor: Actor, *, reason: str = "") -> Saved:
    """Replace the incident's content with the input, which must say the version it was based on; a
    published or retracted incident is corrected by a reviewer, with a reason."""
    return update_loaded(incident, load_input(raw), actor, reason=reason)


def update_loaded(
    incident: Incident,
    data: dict[str, Any],
    actor: Actor,
    *,
    reason: str = "",
    operation: str = "incident.update",
) -> Saved:
    """As update_incident, for input already loaded by the schema.

    Without a version, the save is refused as invalid input (it could overwrite anything); with an older
    version than the stored one, as a conflict (EditConflict), the same on every channel.
    """
    if data.get("version") is None:
        raise ValidationError({"version": [MISSING_VERSION]})
    incident_id = incident.id  # read now: after a failed flush the object can no longer be read
    if data["version"] != incident.version:
        raise EditConflict(incident_id)
    workflow.check_edit(incident, actor, data["status"], reason)
    old = snapshot(incident)
    before = before_change([incident_id])
    _apply(incident, data, actor.user)
    try:
        db.session.flush()
    except StaleDataError:
        # Saved by someone else between the read and this flush: the version check in the UPDATE caught it.
        raise EditConflict(incident_id) from None
    refresh([incident_id], before)
    flagged = flag_duplicates(incident)
    changed = audit.changes(old, snapshot(incident))
    published = incident.status == PublicationStatus.PUBLISHED
    audit.record(
        db.session.connection(),
        actor,
        operation,
        "incident",
        incident_id,
        changes=changed,
        reason=reason.strip(),
        # A published incident whose figures changed carries a correction note for the public.
        details={"correction": True} if published and any(f in changed for f in FIGURE_FIELDS) else None,
    )
    return Saved(incident, flagged)


def retract_incident(incident: Incident, actor: Actor, *, reason: str, version: int | None) -> Incident:
    """Withdraw a published incident from public view (a reviewer's step, with a reason). Records are never
    deleted: a retraction keeps the evidence. EditConflict when someone saved it since it was read."""
    return workflow.transition(incident, PublicationStatus.RETRACTED, actor, reason=reason, version=version)


def snapshot(incident: Incident) -> dict[str, Any]:
    """The incident as the audit trail keeps it: its input, with each citation's source named, and its
    status; without the version (which every save moves)."""
    values = incident_input(incident)
    values.pop("version", None)
    values["types"] = sorted(values["types"])
    for citation, kept in zip(incident.citations, values["citations"], strict=True):
        kept["source"] = citation.source.title
    return values


_LOCATION_FIELDS = ("place_name", "admin1", "admin2", "country", "latitude", "longitude")


def _apply(incident: Incident, data: dict[str, Any], user: User | None) -> None:
    # One flush for the whole change: an autoflush half-way would write the row twice and bump its version.
    with db.session.no_autoflush:
        _apply_fields(incident, data, user)
        _apply_citations(incident, data["citations"], user)
        _apply_estimates(incident, data["estimates"])


def _apply_fields(incident: Incident, data: dict[str, Any], user: User | None) -> None:
    # A location changed by hand is no longer the geocoder's.
    if incident.id is not None and any(getattr(incident, n) != data[n] for n in _LOCATION_FIELDS):
        incident.location_method = LocationMethod.RECORDED
    for name in SCALAR_FIELDS:
        setattr(incident, name, data[name])
    incident.updated_by = user
    # Always write the incident row, so that its version moves even when only citations, claims, types or
    # estimates changed: otherwise a colleague's stale save would silently undo those changes.
    incident.updated_at = utcnow()
    slugs = data["types"]
    incident.types = list(db.session.scalars(sa.select(IncidentType).where(IncidentType.slug.in_(slugs))))


def _apply_citations(incident: Incident, citations: list[dict[str, Any]], user: User | None) -> None:
    incident.citations = []
    for position, citation in enumerate(citations):
        if citation["source_id"] is not None:
            source = db.session.get(Source, citation["source_id"])
        else:
            source = new_source(citation["source"], user)
        incident.citations.append(
            Citation(
                source=source,
                position=position,
                locator=citation["locator"],
                quote=citation["quote"],
                claims=[
                    CasualtyClaim(category=c["category"], low=c["low"], high=c["high"], group=c["group"])
                    for c in citation["claims"]
                ],
            )
        )


def _apply_estimates(incident: Incident, estimates: list[dict[str, Any]]) -> None:
    # Update estimates in place: replacing the rows would insert before deleting and trip the unique key.
    wanted = {e["category"]: e["best"] for e in estimates}
    kept = []
    for estimate in incident.estimates:
        if estimate.category in wanted:
            estimate.best = wanted.pop(estimate.category)
            kept.append(estimate)
    incident.estimates = kept + [CasualtyEstimate(category=c, best=b) for c, b in wanted.items()]


def current_version(incident_id: int) -> int | None:
    """The version stored now (after a conflict, once the transaction was rolled back)."""
    return db.session.scalar(sa.select(Incident.version).where(Incident.id == incident_id))

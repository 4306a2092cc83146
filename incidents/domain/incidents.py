"""Creating and changing incidents. Input arrives already loaded by IncidentInputSchema."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from incidents.domain.casualties import loaded_figures
from incidents.extensions import db
from incidents.models import CasualtyClaim, CasualtyEstimate, Citation, Incident, IncidentType, Source, User
from incidents.models.columns import utcnow
from incidents.vocabulary import CasualtyCategory, LocationMethod


class EditConflict(Exception):
    """Someone saved the incident after this editor opened it."""

    def __init__(self, incident: Incident) -> None:
        super().__init__(
            f"incident {incident.id} was changed by someone else (now version {incident.version})"
        )
        self.incident = incident


def create_incident(data: dict[str, Any], user: User | None) -> Incident:
    incident = Incident(created_by=user)
    db.session.add(incident)
    _apply(incident, data, user)
    db.session.flush()
    return incident


def update_incident(incident: Incident, data: dict[str, Any], user: User | None) -> Incident:
    """Replace the incident's content with data; refuse if it was based on an older version."""
    # A save must say which version it started from; without one it could overwrite anything.
    if data.get("version") != incident.version:
        raise EditConflict(incident)
    _apply(incident, data, user)
    db.session.flush()
    return incident


def create_source(data: dict[str, Any], user: User | None) -> Source:
    source = Source(created_by_id=user.id if user else None, **data)
    db.session.add(source)
    return source


SCALAR_FIELDS = (
    "title",
    "narrative",
    "start_date",
    "end_date",
    "date_precision",
    "place_name",
    "admin1",
    "admin2",
    "country",
    "latitude",
    "longitude",
    "location_precision",
    "perpetrators",
    "victims",
    "verification_grade",
    "status",
    "confidential_notes",
)


_LOCATION_FIELDS = ("place_name", "admin1", "admin2", "country", "latitude", "longitude")


def _apply(incident: Incident, data: dict[str, Any], user: User | None) -> None:
    # One flush for the whole change: an autoflush half-way would write the row twice and bump its version.
    with db.session.no_autoflush:
        _apply_fields(incident, data, user)


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

    incident.citations = []
    for position, citation_data in enumerate(data["citations"]):
        if citation_data["source_id"] is not None:
            source = db.session.get(Source, citation_data["source_id"])
        else:
            source = create_source(citation_data["source"], user)
        incident.citations.append(
            Citation(
                source=source,
                position=position,
                locator=citation_data["locator"],
                quote=citation_data["quote"],
                claims=[
                    CasualtyClaim(category=c["category"], low=c["low"], high=c["high"], group=c["group"])
                    for c in citation_data["claims"]
                ],
            )
        )
    _derive_ranges(incident, data)
    # Update estimates in place: replacing the rows would insert before deleting and trip the unique key.
    wanted = {e["category"]: e["best"] for e in data["estimates"]}
    kept = []
    for estimate in incident.estimates:
        if estimate.category in wanted:
            estimate.best = wanted.pop(estimate.category)
            kept.append(estimate)
    incident.estimates = kept + [CasualtyEstimate(category=c, best=b) for c, b in wanted.items()]


def _derive_ranges(incident: Incident, data: dict[str, Any]) -> None:
    """Store each category's range across the claims, and the number of distinct sources, on the incident."""
    for column, value in range_columns(data["citations"]).items():
        setattr(incident, column, value)
    incident.source_count = len({citation.source for citation in incident.citations})


def range_columns(citations: list[dict[str, Any]]) -> dict[str, int | None]:
    """The derived columns killed_low … displaced_high for citations as loaded by the schema.

    Shared by every save and by bulk imports, which write rows without the ORM.
    """
    ranges = loaded_figures(citations)
    columns: dict[str, int | None] = {}
    for category, low, high in _RANGE_NAMES:
        figures = ranges.get(category)
        columns[low], columns[high] = figures if figures is not None else (None, None)
    return columns


_RANGE_NAMES = [(c, f"{c.value}_low", f"{c.value}_high") for c in CasualtyCategory]


def incident_input(incident: Incident) -> dict[str, Any]:
    """The incident as schema input (plain JSON types), for editing forms and round trips."""
    return {
        "title": incident.title,
        "narrative": incident.narrative,
        "types": [t.slug for t in incident.types],
        "start_date": incident.start_date.isoformat(),
        "end_date": incident.end_date.isoformat() if incident.end_date else None,
        "date_precision": incident.date_precision.value,
        "place_name": incident.place_name,
        "admin1": incident.admin1,
        "admin2": incident.admin2,
        "country": incident.country,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "location_precision": incident.location_precision.value,
        "perpetrators": incident.perpetrators,
        "victims": incident.victims,
        "verification_grade": incident.verification_grade.value,
        "status": incident.status.value,
        "confidential_notes": incident.confidential_notes,
        "citations": [
            {
                "source_id": c.source_id,
                "locator": c.locator,
                "quote": c.quote,
                "claims": [
                    {"category": k.category.value, "low": k.low, "high": k.high, "group": k.group}
                    for k in c.claims
                ],
            }
            for c in incident.citations
        ],
        "estimates": [{"category": e.category.value, "best": e.best} for e in incident.estimates],
        "version": incident.version,
    }


def seed_incident_types() -> int:
    """Add the seed vocabulary's missing types; returns how many were added."""
    from incidents.vocabulary import SEED_INCIDENT_TYPES

    existing = set(db.session.scalars(sa.select(IncidentType.slug)))
    added = [IncidentType(slug=s, label=label) for s, label in SEED_INCIDENT_TYPES if s not in existing]
    db.session.add_all(added)
    return len(added)


def retract_incident(incident: Incident, user: User | None) -> Incident:
    """Withdraw an incident from public view. Records are never deleted: a retraction keeps the evidence."""
    from incidents.vocabulary import PublicationStatus

    incident.status = PublicationStatus.RETRACTED
    incident.updated_by = user
    db.session.flush()
    return incident

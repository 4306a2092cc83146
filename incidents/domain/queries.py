"""Which incidents a filter selects, for a given audience."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from incidents.models import Incident, IncidentType, incident_type_links
from incidents.vocabulary import PublicationStatus


def incident_selection(filters: dict[str, Any], *, include_unpublished: bool) -> sa.Select[Incident]:
    """A SELECT of the incidents matching filters, newest first; the public sees published ones only."""
    query = sa.select(Incident)
    if not include_unpublished:
        query = query.where(Incident.status == PublicationStatus.PUBLISHED)
    elif filters.get("status"):
        query = query.where(Incident.status == filters["status"])
    if filters.get("q"):
        text = filters["q"]
        query = query.where(
            sa.or_(
                Incident.title.icontains(text, autoescape=True),
                Incident.narrative.icontains(text, autoescape=True),
                Incident.place_name.icontains(text, autoescape=True),
            )
        )
    if filters.get("type"):
        query = query.where(
            sa.exists()
            .where(incident_type_links.c.incident_id == Incident.id)
            .where(incident_type_links.c.incident_type_id == IncidentType.id)
            .where(IncidentType.slug.in_(filters["type"]))
        )
    # Date filters select incidents that overlap the range, so a curfew that began before it still shows.
    if filters.get("date_from"):
        query = query.where(sa.func.coalesce(Incident.end_date, Incident.start_date) >= filters["date_from"])
    if filters.get("date_to"):
        query = query.where(Incident.start_date <= filters["date_to"])
    if filters.get("country"):
        query = query.where(Incident.country == filters["country"])
    if filters.get("admin1"):
        query = query.where(sa.func.lower(Incident.admin1) == filters["admin1"].lower())
    return query.order_by(Incident.start_date.desc(), Incident.id.desc())

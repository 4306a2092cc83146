"""What forms offer to choose from: incident types, sources, the admin-1 regions in use."""

from __future__ import annotations

import sqlalchemy as sa

from incidents.extensions import db
from incidents.models import Incident, IncidentType, Source, incident_type_links

ADMIN1_CHOICES = 500  # region names offered in the filter form, at most


def incident_types() -> list[IncidentType]:
    """Every incident type, by label."""
    return list(db.session.scalars(sa.select(IncidentType).order_by(IncidentType.label)))


def incident_type_usage() -> dict[int, int]:
    """How many incidents each type is given to, by type id (types given to none are left out)."""
    counts = sa.select(incident_type_links.c.incident_type_id, sa.func.count()).group_by(
        incident_type_links.c.incident_type_id
    )
    return {type_id: count for type_id, count in db.session.execute(counts)}


def source_choices() -> list[tuple[str, str]]:
    """(id, title) of every source, by title, for a citation's "existing source"."""
    query = sa.select(Source.id, Source.title).order_by(Source.title, Source.id)
    return [(str(source_id), title) for source_id, title in db.session.execute(query)]


def admin1_in_use() -> list[str]:
    """The admin-1 region names incidents have, in order (at most ADMIN1_CHOICES)."""
    query = (
        sa.select(Incident.admin1)
        .where(Incident.admin1 != "")
        .distinct()
        .order_by(Incident.admin1)
        .limit(ADMIN1_CHOICES)
    )
    return list(db.session.scalars(query))

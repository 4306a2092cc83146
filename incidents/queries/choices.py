"""What forms offer to choose from: incident types, sources, the admin-1 regions in use."""

from __future__ import annotations

import sqlalchemy as sa

from incidents.extensions import db
from incidents.models import Incident, IncidentType, Source, incident_type_links
from incidents.queries.selection import visible_statuses
from incidents.vocabulary import PublicationStatus

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


def admin1_in_use(*, staff: bool) -> list[str]:
    """The admin-1 region names of the incidents this audience sees, in order (at most ADMIN1_CHOICES): the
    public's come from published incidents only, so that no draft's region shows in the filter form."""
    names = sa.select(Incident.admin1).where(Incident.admin1 != "").distinct()
    statuses = visible_statuses({}, staff=staff)
    if set(statuses) != set(PublicationStatus):
        # Each name the admin-1 index holds, kept if an incident this audience sees has it: a lookup by that
        # index per name, about as fast as the names alone. "status || ''" keeps SQLite, which has no
        # statistics, from making that lookup by the status index instead, through every published incident
        # per name: 0.7 s instead of 0.07 s for 300 names in a million incidents.
        in_use = names.subquery()
        status = sa.type_coerce(Incident.status, sa.String) + ""
        seen = sa.exists().where(Incident.admin1 == in_use.c.admin1, status.in_([s.value for s in statuses]))
        names = sa.select(in_use.c.admin1).where(seen)
    query = names.order_by(names.selected_columns[0]).limit(ADMIN1_CHOICES)
    return list(db.session.scalars(query))

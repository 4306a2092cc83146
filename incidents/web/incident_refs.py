"""Which incident a URL names, for whom: public ids for everyone, numbers for staff and old links.

An incident's URL carries its public id (incidents.public_ids). A number names an incident too:
- for staff, any incident (their bookmarks and scripts from before public ids keep working);
- for the public, only an incident that had a numbered URL before public ids existed (`numbered_url`) and
  is published, which the public page redirects to its public id. Any other number is not found, exactly
  as a number no incident has: trying numbers one by one tells nothing of the incidents entered since.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort

from incidents.extensions import db
from incidents.models import Incident
from incidents.vocabulary import PublicationStatus
from incidents.web.security import is_staff

IncidentRef = int | str


def find_incident(ref: IncidentRef, *, staff: bool) -> Incident | None:
    """The incident ref names for this audience (staff or not), or None."""
    if isinstance(ref, int):
        incident = db.session.get(Incident, ref)
        if (
            incident is not None
            and not staff
            and not (incident.numbered_url and incident.status == PublicationStatus.PUBLISHED)
        ):
            return None
    else:
        incident = db.session.scalars(sa.select(Incident).where(Incident.public_id == ref)).one_or_none()
    if incident is None or (not staff and incident.status != PublicationStatus.PUBLISHED):
        return None
    return incident


def incident_or_404(ref: IncidentRef) -> Incident:
    """The incident if this visitor may see it; 404 otherwise, so that unpublished ones are not revealed."""
    incident = find_incident(ref, staff=is_staff())
    if incident is None:
        abort(404)
    return incident

"""Derived data brought up to date after a service's change, in the session the change was made in."""

from __future__ import annotations

from collections.abc import Iterable

from incidents import derived
from incidents.derived.public_locations import COLUMNS as PUBLIC_LOCATION_ATTRIBUTES
from incidents.derived.ranges import COLUMNS as RANGE_ATTRIBUTES
from incidents.extensions import db
from incidents.models import Incident


def before_change(incident_ids: Iterable[int]) -> derived.Before:
    """What refresh needs to know of these incidents before they change (see derived.before_change)."""
    return derived.before_change(db.session.connection(), incident_ids)


def refresh(incident_ids: Iterable[int], before: derived.Before) -> None:
    """derived.refresh for these incidents, after the change was flushed; the incidents this session holds
    read their range columns and public location again when next asked, since refresh rewrote them in SQL."""
    wanted = set(incident_ids)
    derived.refresh(db.session.connection(), wanted, before=before)
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Incident) and obj.id in wanted:
            db.session.expire(obj, [*RANGE_ATTRIBUTES, *PUBLIC_LOCATION_ATTRIBUTES])

"""The incident type vocabulary: the seed types, types an admin adds, and their labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import IncidentType, incident_type_links
from incidents.schemas.incident_type import IncidentTypeLabelSchema, IncidentTypeSchema
from incidents.services.refresh import before_change, refresh
from incidents.vocabulary import SEED_INCIDENT_TYPES


def seed_incident_types(actor: Actor = audit.SYSTEM) -> int:
    """Add the seed vocabulary's missing types; returns how many were added."""
    existing = set(db.session.scalars(sa.select(IncidentType.slug)))
    added = [IncidentType(slug=s, label=label) for s, label in SEED_INCIDENT_TYPES if s not in existing]
    db.session.add_all(added)
    db.session.flush()
    for incident_type in added:
        _record_added(incident_type, actor, reason="the seed vocabulary")
    return len(added)


def _record_added(incident_type: IncidentType, actor: Actor, *, reason: str = "") -> None:
    audit.record(
        db.session.connection(),
        actor,
        "incident_type.add",
        "incident_type",
        incident_type.id,
        changes=audit.changes(None, {"slug": incident_type.slug, "label": incident_type.label}),
        reason=reason,
    )


def add_incident_type(raw: Mapping[str, Any], actor: Actor) -> IncidentType:
    """A new type from a label and an optional slug; ValidationError when either is taken or malformed."""
    data = IncidentTypeSchema().load(raw)
    incident_type = IncidentType(slug=data["slug"], label=data["label"])
    db.session.add(incident_type)
    db.session.flush()
    _record_added(incident_type, actor)
    return incident_type


def relabel_incident_type(incident_type: IncidentType, raw: Mapping[str, Any], actor: Actor) -> IncidentType:
    """Give a type a new label (its slug, which files and URLs use, stays): every incident of that type
    shows the new label, in its page and its records."""
    data = IncidentTypeLabelSchema(type_id=incident_type.id).load(raw)
    typed = list(
        db.session.scalars(
            sa.select(incident_type_links.c.incident_id).where(
                incident_type_links.c.incident_type_id == incident_type.id
            )
        )
    )
    before = before_change(typed)
    old = incident_type.label
    incident_type.label = data["label"]
    db.session.flush()
    refresh(typed, before)
    audit.record(
        db.session.connection(),
        actor,
        "incident_type.relabel",
        "incident_type",
        incident_type.id,
        changes={"label": [old, incident_type.label]},
    )
    return incident_type

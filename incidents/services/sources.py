"""Creating and correcting sources. A source is shared by every incident that cites it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import Citation, Source, User
from incidents.schemas import SourceInputSchema
from incidents.services.refresh import before_change, refresh

SOURCE_FIELDS = tuple(SourceInputSchema().fields)


def create_source(raw: Mapping[str, Any], actor: Actor) -> Source:
    """A new source from input (plain JSON types); ValidationError names the field and the problem."""
    source = new_source(SourceInputSchema().load(raw), actor.user)
    db.session.flush()
    audit.record(
        db.session.connection(),
        actor,
        "source.create",
        "source",
        source.id,
        changes=audit.changes(None, snapshot(source)),
    )
    return source


def snapshot(source: Source) -> dict[str, Any]:
    """The source's fields as the audit trail keeps them (enums by value, dates as text)."""
    values = {name: getattr(source, name) for name in SOURCE_FIELDS}
    return {name: getattr(value, "value", value) for name, value in values.items()}


def new_source(data: Mapping[str, Any], user: User | None) -> Source:
    """A new source from input already loaded by SourceInputSchema (a citation's new source)."""
    source = Source(created_by_id=user.id if user else None, **data)
    db.session.add(source)
    return source


def update_source(source: Source, raw: Mapping[str, Any], actor: Actor, *, reason: str = "") -> Source:
    """Correct a source: every incident citing it shows the correction, in its page and its records."""
    data = SourceInputSchema().load(raw)
    citing = list(db.session.scalars(sa.select(Citation.incident_id).where(Citation.source_id == source.id)))
    old = snapshot(source)
    before = before_change(citing)
    for name, value in data.items():
        setattr(source, name, value)
    db.session.flush()
    refresh(citing, before)
    audit.record(
        db.session.connection(),
        actor,
        "source.update",
        "source",
        source.id,
        changes=audit.changes(old, snapshot(source)),
        reason=reason,
        details={"cited_by": sorted(set(citing))},
    )
    return source

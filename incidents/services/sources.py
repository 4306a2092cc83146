"""Creating and correcting sources. A source is shared by every incident that cites it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from incidents.extensions import db
from incidents.models import Citation, Source, User
from incidents.schemas import SourceInputSchema
from incidents.services.refresh import before_change, refresh


def create_source(raw: Mapping[str, Any], user: User | None) -> Source:
    """A new source from input (plain JSON types); ValidationError names the field and the problem."""
    source = new_source(SourceInputSchema().load(raw), user)
    db.session.flush()
    return source


def new_source(data: Mapping[str, Any], user: User | None) -> Source:
    """A new source from input already loaded by SourceInputSchema (a citation's new source)."""
    source = Source(created_by_id=user.id if user else None, **data)
    db.session.add(source)
    return source


def update_source(source: Source, raw: Mapping[str, Any], user: User | None) -> Source:
    """Correct a source: every incident citing it shows the correction, in its page and its records."""
    data = SourceInputSchema().load(raw)
    citing = list(db.session.scalars(sa.select(Citation.incident_id).where(Citation.source_id == source.id)))
    before = before_change(citing)
    for name, value in data.items():
        setattr(source, name, value)
    db.session.flush()
    refresh(citing, before)
    return source

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base
from incidents.models.columns import Timestamp, enum_column_type, utcnow
from incidents.vocabulary import LocationRuleKind


class LocationRule(Base):
    """A standing instruction: publish the location of every incident citing a source, of a type, or in an
    admin-1 region coarsened (to grid_degrees, or the configured grid when NULL). Kept by admins, with a
    reason; derived.public_locations applies the rules on every save and when a rule changes."""

    __tablename__ = "location_rules"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'source' AND source_id IS NOT NULL AND incident_type_id IS NULL AND admin1 = '')"
            " OR (kind = 'incident_type' AND incident_type_id IS NOT NULL AND source_id IS NULL"
            " AND admin1 = '')"
            " OR (kind = 'region' AND admin1 <> '' AND country <> '' AND source_id IS NULL"
            " AND incident_type_id IS NULL)",
            name="one_target",
        ),
        sa.CheckConstraint("grid_degrees IS NULL OR (grid_degrees > 0 AND grid_degrees <= 10)", name="grid"),
        sa.CheckConstraint("reason <> ''", name="has_reason"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[LocationRuleKind] = mapped_column(enum_column_type(LocationRuleKind))
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    incident_type_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident_types.id", ondelete="CASCADE")
    )
    country: Mapped[str] = mapped_column(sa.String(2), default="", server_default="")
    admin1: Mapped[str] = mapped_column(sa.String(120), default="", server_default="")
    grid_degrees: Mapped[float | None] = mapped_column(sa.Float)
    reason: Mapped[str] = mapped_column(sa.String(500))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    def __repr__(self) -> str:
        return f"<LocationRule {self.id} {self.kind.value}>"

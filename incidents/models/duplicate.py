from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.extensions import Base
from incidents.models.columns import Timestamp, enum_column_type, utcnow
from incidents.vocabulary import DuplicateStatus

if TYPE_CHECKING:
    from incidents.models.incident import Incident
    from incidents.models.user import User


class DuplicateFlag(Base):
    """Two incidents of a type a few days and kilometres apart: possibly one event, for an editor to judge.

    The pair is stored once, the later incident (higher id) as incident_id. Only an editor merges them.
    """

    __tablename__ = "duplicate_flags"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "candidate_id", name="uq_duplicate_flags_pair"),
        sa.CheckConstraint("incident_id > candidate_id", name="later_incident_first"),
        sa.CheckConstraint("days_apart >= 0", name="days_apart_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    # Geodesic distance between the two points; NULL when they were matched by place name (no coordinates).
    distance_km: Mapped[float | None] = mapped_column(sa.Float)
    # Days between the two date ranges; 0 when they overlap.
    days_apart: Mapped[int]
    status: Mapped[DuplicateStatus] = mapped_column(
        enum_column_type(DuplicateStatus), default=DuplicateStatus.OPEN, index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    incident: Mapped[Incident] = relationship(foreign_keys=[incident_id])
    candidate: Mapped[Incident] = relationship(foreign_keys=[candidate_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])

    def other(self, incident_id: int) -> Incident:
        """The incident of the pair that is not incident_id."""
        return self.candidate if incident_id == self.incident_id else self.incident

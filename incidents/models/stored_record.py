from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base


class StoredRecord(Base):
    """An incident's public record as the JSON export writes it: its canonical bytes, kept on every save.

    Derived data, like the map's rollup: the incident, its citations, sources, claims, estimates and types
    are the truth, and derived.stored_records rewrites this row in the transaction that changes any of
    them. An export of a million incidents then streams these bytes instead of assembling each record from
    six tables. `layout` names the record format's version that wrote the bytes (exports.stored.LAYOUT): a
    row of another is not used.
    """

    __tablename__ = "incident_records"

    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    layout: Mapped[str] = mapped_column(sa.String(32))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary)

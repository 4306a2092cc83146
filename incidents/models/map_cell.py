from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base
from incidents.models.columns import enum_column_type
from incidents.vocabulary import PublicationStatus


class MapCell(Base):
    """How many incidents lie in one cell of a grid over the world, with their casualty sums, per status.

    A rollup kept up to date on every save (derived.map_cells), so that a map of a million incidents is drawn
    from a few hundred rows instead of a scan. Level k divides the world into cells of 360/2**k degrees;
    level 0 is one cell holding every incident, with or without coordinates, for totals.
    """

    __tablename__ = "map_cells"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    status: Mapped[PublicationStatus] = mapped_column(enum_column_type(PublicationStatus), primary_key=True)
    cell_x: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    cell_y: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    incident_count: Mapped[int] = mapped_column(default=0)
    # Sums of coordinates, so that a cluster is drawn at the mean position of its incidents.
    latitude_sum: Mapped[float] = mapped_column(sa.Float, default=0.0)
    longitude_sum: Mapped[float] = mapped_column(sa.Float, default=0.0)
    # Totals over many incidents add the lows and the highs separately.
    killed_low: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    killed_high: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    injured_low: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    injured_high: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    detained_low: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    detained_high: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    disappeared_low: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    disappeared_high: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    displaced_low: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    displaced_high: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    def __repr__(self) -> str:
        return f"<MapCell {self.level}/{self.cell_x}/{self.cell_y} {self.status} {self.incident_count}>"

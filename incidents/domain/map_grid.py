"""The grid the map's rollup counts incidents in: levels, cells, and the arithmetic from a point to its cell.

Level k divides the world into cells of 360/2**k degrees; level 0 (TOTAL_LEVEL) is one cell per status holding
every incident, with coordinates or not. The rollup itself (models.MapCell) is kept by derived.map_cells.
"""

from __future__ import annotations

import math
from typing import Any, cast

import sqlalchemy as sa

from incidents.models import Incident, MapCell
from incidents.vocabulary import CasualtyCategory

TOTAL_LEVEL = 0  # one cell per status, holding every incident, with coordinates or not
MIN_LEVEL = 2  # 90-degree cells
MAX_LEVEL = 12  # about 0.09 degrees (10 km at the equator)
LEVELS = range(MIN_LEVEL, MAX_LEVEL + 1)

CASUALTY_COLUMNS = tuple(f"{c.value}_{end}" for c in CasualtyCategory for end in ("low", "high"))
SUM_COLUMNS = ("incident_count", "latitude_sum", "longitude_sum", *CASUALTY_COLUMNS)
# What of an incident decides its cells and what it adds to them: its public location (the map shows every
# audience the same cells; derived.public_locations).
MAP_VALUES = ("status", "public_latitude", "public_longitude", *CASUALTY_COLUMNS)
CELL_KEY = ("level", "status", "cell_x", "cell_y")
CELLS = cast(sa.Table, MapCell.__table__)
INCIDENTS = cast(sa.Table, Incident.__table__)


def cell_size(level: int) -> float:
    """The side of a cell of this level, in degrees."""
    return 360.0 / (1 << level)


def cell_of(latitude: float, longitude: float, level: int) -> tuple[int, int]:
    """The (x, y) of the cell holding this point; the same arithmetic as cell_expressions, in SQL.

    Up to MAX_LEVEL, the finest cell shifted down, exactly as derived.map_cells.rebuild merges cells.
    """
    finest = max(level, MAX_LEVEL)
    size = cell_size(finest)
    x = min(math.floor((longitude + 180.0) / size), (1 << finest) - 1)
    y = min(math.floor((latitude + 90.0) / size), (1 << (finest - 1)) - 1)
    return x >> (finest - level), y >> (finest - level)


def cell_expressions(level: int, dialect: str) -> tuple[sa.ColumnElement[int], sa.ColumnElement[int]]:
    """SQL for the cell x and y of Incident rows at this level (floor on both SQLite and PostgreSQL)."""
    size = cell_size(level)

    def index(column: Any, offset: float, last: int) -> sa.ColumnElement[int]:
        shifted = (column + offset) / size
        # Values are never negative, so SQLite's truncating CAST is a floor; PostgreSQL's CAST rounds.
        floored = sa.cast(sa.func.floor(shifted) if dialect == "postgresql" else shifted, sa.Integer)
        return sa.case((floored > last, last), else_=floored)

    return (
        index(Incident.public_longitude, 180.0, (1 << level) - 1),
        index(Incident.public_latitude, 90.0, (1 << (level - 1)) - 1),
    )


def cell_range(west: float, east: float, level: int) -> tuple[int, int]:
    """The first and last cell x covering longitudes west..east (west <= east)."""
    return cell_of(0.0, west, level)[0], cell_of(0.0, east, level)[0]

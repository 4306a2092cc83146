"""The map's rollup: incidents counted per grid cell, kept up to date on every save.

Every ORM flush that adds, changes or removes an incident adjusts the cells it leaves and enters, in the
same transaction (`before_flush`). Rows written around the ORM are not seen: a bulk insert passes its rows to
add_incident_rows; after SQL by hand, run `flask --app incidents map-cells` (rebuild_map_cells).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from incidents.models import Incident, MapCell
from incidents.vocabulary import CasualtyCategory, PublicationStatus

TOTAL_LEVEL = 0  # one cell per status, holding every incident, with coordinates or not
MIN_LEVEL = 2  # 90-degree cells
MAX_LEVEL = 12  # about 0.09 degrees (10 km at the equator)
LEVELS = range(MIN_LEVEL, MAX_LEVEL + 1)

CASUALTY_COLUMNS = tuple(f"{c.value}_{end}" for c in CasualtyCategory for end in ("low", "high"))
SUM_COLUMNS = ("incident_count", "latitude_sum", "longitude_sum", *CASUALTY_COLUMNS)
_TRACKED = ("status", "latitude", "longitude", *CASUALTY_COLUMNS)
_KEY = ("level", "status", "cell_x", "cell_y")
CELLS = cast(sa.Table, MapCell.__table__)
INCIDENTS = cast(sa.Table, Incident.__table__)


def cell_size(level: int) -> float:
    """The side of a cell of this level, in degrees."""
    return 360.0 / (1 << level)


def cell_of(latitude: float, longitude: float, level: int) -> tuple[int, int]:
    """The (x, y) of the cell holding this point; the same arithmetic as cell_expressions, in SQL.

    Up to MAX_LEVEL, the finest cell shifted down, exactly as rebuild_map_cells merges cells.
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
        index(Incident.longitude, 180.0, (1 << level) - 1),
        index(Incident.latitude, 90.0, (1 << (level - 1)) - 1),
    )


def cell_range(west: float, east: float, level: int) -> tuple[int, int]:
    """The first and last cell x covering longitudes west..east (west <= east)."""
    return cell_of(0.0, west, level)[0], cell_of(0.0, east, level)[0]


# -- keeping the rollup up to date ----------------------------------------------------------------------


def _contributions(values: dict[str, Any], sign: int) -> Iterator[tuple[tuple[Any, ...], list[float]]]:
    """What one incident adds to (sign 1) or takes from (sign -1) each cell it lies in."""
    latitude, longitude = values["latitude"], values["longitude"]
    sums = [
        1,
        latitude or 0.0,
        longitude or 0.0,
        *(values[column] or 0 for column in CASUALTY_COLUMNS),
    ]
    sums = [sign * value for value in sums]
    status = PublicationStatus(values["status"])
    yield (TOTAL_LEVEL, status, 0, 0), [*sums[:1], 0.0, 0.0, *sums[3:]]
    if latitude is None or longitude is None:
        return
    for level in LEVELS:
        x, y = cell_of(latitude, longitude, level)
        yield (level, status, x, y), sums


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    changed = [obj for obj in session.dirty if isinstance(obj, Incident) and session.is_modified(obj)]
    deleted = [obj for obj in session.deleted if isinstance(obj, Incident)]
    added = [obj for obj in session.new if isinstance(obj, Incident)]
    if not (changed or deleted or added):
        return
    deltas: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * len(SUM_COLUMNS))
    connection = session.connection()
    # The stored values, read before this flush writes the new ones: the only sure way to know them.
    stored_ids = [obj.id for obj in changed + deleted if obj.id is not None]
    stored: dict[int, dict[str, Any]] = {}
    if stored_ids:
        table = INCIDENTS
        columns = [table.c.id, *(table.c[name] for name in _TRACKED)]
        for row in connection.execute(sa.select(*columns).where(table.c.id.in_(stored_ids))):
            stored[row.id] = dict(row._mapping)
    for obj in added + changed:
        status = obj.status if obj.status is not None else PublicationStatus.DRAFT
        current = {name: getattr(obj, name) for name in _TRACKED} | {"status": status}
        previous = stored.get(obj.id) if obj.id is not None else None
        if previous is not None and all(previous[name] == current[name] for name in _TRACKED):
            continue
        _add(deltas, current, 1)
        if previous is not None:
            _add(deltas, previous, -1)
    for obj in deleted:
        if obj.id in stored:
            _add(deltas, stored[obj.id], -1)
    apply_deltas(connection, deltas)


def _add(deltas: dict[tuple[Any, ...], list[float]], values: dict[str, Any], sign: int) -> None:
    for key, sums in _contributions(values, sign):
        total = deltas[key]
        for i, value in enumerate(sums):
            total[i] += value


def apply_deltas(connection: sa.Connection, deltas: dict[tuple[Any, ...], list[float]]) -> None:
    """Add deltas to their cells (creating them), then drop cells left empty."""
    if not deltas:
        return
    rows = []
    for key, sums in deltas.items():
        row: dict[str, Any] = dict(zip(_KEY, key, strict=True))
        for name, value in zip(SUM_COLUMNS, sums, strict=True):
            row[name] = value if name.endswith("_sum") else int(value)
        rows.append(row)
    table = CELLS
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in _KEY],
        set_={name: table.c[name] + statement.excluded[name] for name in SUM_COLUMNS},
    )
    connection.execute(statement, rows)
    emptied = [dict(zip(_KEY, key, strict=True)) for key, sums in deltas.items() if sums[0] < 0]
    if emptied:
        connection.execute(
            sa.delete(table)
            .where(*(table.c[name] == sa.bindparam(f"k_{name}") for name in _KEY))
            .where(table.c.incident_count <= 0),
            [{f"k_{name}": row[name] for name in _KEY} for row in emptied],
        )


def add_incident_rows(connection: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count incidents inserted around the ORM (bulk imports) in the rollup, in the same transaction.

    Each row needs status, latitude, longitude and the derived casualty columns, as inserted.
    """
    deltas: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * len(SUM_COLUMNS))
    for row in rows:
        values = {name: row.get(name) for name in _TRACKED}
        values["status"] = values["status"] or PublicationStatus.DRAFT
        _add(deltas, values, 1)
    apply_deltas(connection, deltas)


def track(session_class: type[Session] = Session) -> None:
    """Keep the rollup up to date on every ORM flush (idempotent)."""
    if not sa.event.contains(session_class, "before_flush", _before_flush):
        sa.event.listen(session_class, "before_flush", _before_flush)


# -- rebuilding from scratch ----------------------------------------------------------------------------


def rebuild_map_cells(connection: sa.Connection) -> int:
    """Recompute the whole rollup from the incidents (after a bulk load); returns the number of cells.

    One scan groups the incidents into the finest cells; the coarser levels are those cells merged (a cell
    of level k holds the 4**(MAX_LEVEL - k) finest cells whose x and y shift down to its own).
    """
    connection.execute(sa.delete(CELLS))
    sums = [
        sa.func.count().label("incident_count"),
        *(sa.func.coalesce(sa.func.sum(INCIDENTS.c[c]), 0).label(c) for c in CASUALTY_COLUMNS),
    ]
    total = sa.select(
        sa.literal(TOTAL_LEVEL).label("level"),
        INCIDENTS.c.status,
        sa.literal(0).label("cell_x"),
        sa.literal(0).label("cell_y"),
        sa.literal(0.0).label("latitude_sum"),
        sa.literal(0.0).label("longitude_sum"),
        *sums,
    ).group_by(INCIDENTS.c.status)
    names = ["level", "status", "cell_x", "cell_y", "latitude_sum", "longitude_sum", "incident_count"]
    connection.execute(sa.insert(CELLS).from_select([*names, *CASUALTY_COLUMNS], total))
    x, y = cell_expressions(MAX_LEVEL, connection.dialect.name)
    finest = (
        sa.select(
            INCIDENTS.c.status,
            x.label("cell_x"),
            y.label("cell_y"),
            sa.func.sum(INCIDENTS.c.latitude).label("latitude_sum"),
            sa.func.sum(INCIDENTS.c.longitude).label("longitude_sum"),
            *sums,
        )
        .where(INCIDENTS.c.latitude.is_not(None), INCIDENTS.c.longitude.is_not(None))
        .group_by(INCIDENTS.c.status, x, y)
    )
    cells: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0.0] * len(SUM_COLUMNS))
    for row in connection.execute(finest):
        values = [row._mapping[name] or 0 for name in SUM_COLUMNS]
        for level in LEVELS:
            shift = MAX_LEVEL - level
            total_sums = cells[
                (level, PublicationStatus(row.status), row.cell_x >> shift, row.cell_y >> shift)
            ]
            for i, value in enumerate(values):
                total_sums[i] += value
    records: list[dict[str, Any]] = []
    for key, values in cells.items():
        record: dict[str, Any] = dict(zip(_KEY, key, strict=True))
        for name, value in zip(SUM_COLUMNS, values, strict=True):
            record[name] = value if name.endswith("_sum") else int(value)
        records.append(record)
    for start in range(0, len(records), 10_000):
        connection.execute(sa.insert(CELLS), records[start : start + 10_000])
    return int(connection.scalar(sa.select(sa.func.count()).select_from(CELLS)) or 0)

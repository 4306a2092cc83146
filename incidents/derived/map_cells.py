"""The map's rollup: incidents counted per grid cell (domain.map_grid), with their casualty sums, per status.

Kept by deltas: a change reads what decides the cells of the incidents it touches before (`values`) and after,
and adds the difference (`apply_change`); incidents the bulk writer inserts add what their rows hold
(`add_rows`). `rebuild` recomputes the whole rollup in SQL (after a large import, or SQL by hand: `flask
--app incidents map-cells`), and `check` compares the rollup with what a rebuild would give.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from incidents.domain.map_grid import (
    CASUALTY_COLUMNS,
    CELL_KEY,
    CELLS,
    INCIDENTS,
    LEVELS,
    MAP_VALUES,
    MAX_LEVEL,
    SUM_COLUMNS,
    TOTAL_LEVEL,
    cell_expressions,
    cell_of,
)
from incidents.vocabulary import PublicationStatus

IN_CHUNK = 500
Deltas = dict[tuple[Any, ...], list[float]]


def _deltas() -> Deltas:
    return defaultdict(lambda: [0.0] * len(SUM_COLUMNS))


def _contributions(values: Mapping[str, Any], sign: int) -> Iterator[tuple[tuple[Any, ...], list[float]]]:
    """What one incident adds to (sign 1) or takes from (sign -1) each cell it lies in."""
    latitude, longitude = values["public_latitude"], values["public_longitude"]
    sums = [
        1,
        latitude or 0.0,
        longitude or 0.0,
        *(values[column] or 0 for column in CASUALTY_COLUMNS),
    ]
    sums = [sign * value for value in sums]
    status = PublicationStatus(values["status"] or PublicationStatus.DRAFT)
    yield (TOTAL_LEVEL, status, 0, 0), [*sums[:1], 0.0, 0.0, *sums[3:]]
    if latitude is None or longitude is None:
        return
    for level in LEVELS:
        x, y = cell_of(latitude, longitude, level)
        yield (level, status, x, y), sums


def _add(deltas: Deltas, values: Mapping[str, Any], sign: int) -> None:
    for key, sums in _contributions(values, sign):
        total = deltas[key]
        for i, value in enumerate(sums):
            total[i] += value


def values(connection: sa.Connection, incident_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What decides the cells of these incidents, and what they add to them, as their rows hold it now."""
    found: dict[int, dict[str, Any]] = {}
    columns = [INCIDENTS.c.id, *(INCIDENTS.c[name] for name in MAP_VALUES)]
    for start in range(0, len(incident_ids), IN_CHUNK):
        chunk = list(incident_ids[start : start + IN_CHUNK])
        for row in connection.execute(sa.select(*columns).where(INCIDENTS.c.id.in_(chunk))):
            found[row.id] = {name: row._mapping[name] for name in MAP_VALUES}
    return found


def apply_change(
    connection: sa.Connection, before: Mapping[int, Mapping[str, Any]], after: Mapping[int, Mapping[str, Any]]
) -> None:
    """Move incidents from the cells their values before put them in to those their values after do (an
    incident only before was removed; one only after is new)."""
    deltas = _deltas()
    for incident_id in before.keys() | after.keys():
        old, new = before.get(incident_id), after.get(incident_id)
        if old == new:
            continue
        if old is not None:
            _add(deltas, old, -1)
        if new is not None:
            _add(deltas, new, 1)
    _apply_deltas(connection, deltas)


def add_rows(connection: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count incidents just inserted around the ORM (the bulk writer) in the rollup, in the same transaction.

    Each row gives the MAP_VALUES (status, public coordinates and the range columns) as inserted; a range
    column left out is NULL.
    """
    deltas = _deltas()
    for row in rows:
        _add(deltas, {name: row.get(name) for name in MAP_VALUES}, 1)
    _apply_deltas(connection, deltas)


def _apply_deltas(connection: sa.Connection, deltas: Deltas) -> None:
    """Add deltas to their cells (creating them), then drop cells left empty."""
    if not deltas:
        return
    rows = [_cell_row(key, sums) for key, sums in deltas.items()]
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(CELLS)
    statement = statement.on_conflict_do_update(
        index_elements=[CELLS.c[name] for name in CELL_KEY],
        set_={name: CELLS.c[name] + statement.excluded[name] for name in SUM_COLUMNS},
    )
    connection.execute(statement, rows)
    emptied = [dict(zip(CELL_KEY, key, strict=True)) for key, sums in deltas.items() if sums[0] < 0]
    if emptied:
        connection.execute(
            sa.delete(CELLS)
            .where(*(CELLS.c[name] == sa.bindparam(f"k_{name}") for name in CELL_KEY))
            .where(CELLS.c.incident_count <= 0),
            [{f"k_{name}": row[name] for name in CELL_KEY} for row in emptied],
        )


def _cell_row(key: tuple[Any, ...], sums: list[float]) -> dict[str, Any]:
    row: dict[str, Any] = dict(zip(CELL_KEY, key, strict=True))
    for name, value in zip(SUM_COLUMNS, sums, strict=True):
        row[name] = value if name.endswith("_sum") else int(value)
    return row


# -- rebuilding from scratch, and checking ------------------------------------------------------------------


def computed(connection: sa.Connection) -> Deltas:
    """The whole rollup as the incidents give it now, in memory.

    One scan groups the incidents into the finest cells; the coarser levels are those cells merged (a cell
    of level k holds the 4**(MAX_LEVEL - k) finest cells whose x and y shift down to its own).
    """
    sums = [
        sa.func.count().label("incident_count"),
        *(sa.func.coalesce(sa.func.sum(INCIDENTS.c[c]), 0).label(c) for c in CASUALTY_COLUMNS),
    ]
    cells = _deltas()
    total = sa.select(INCIDENTS.c.status, *sums).group_by(INCIDENTS.c.status)
    for row in connection.execute(total):
        cells[(TOTAL_LEVEL, PublicationStatus(row.status), 0, 0)] = [
            row.incident_count,
            0.0,
            0.0,
            *(row._mapping[c] or 0 for c in CASUALTY_COLUMNS),
        ]
    x, y = cell_expressions(MAX_LEVEL, connection.dialect.name)
    finest = (
        sa.select(
            INCIDENTS.c.status,
            x.label("cell_x"),
            y.label("cell_y"),
            sa.func.sum(INCIDENTS.c.public_latitude).label("latitude_sum"),
            sa.func.sum(INCIDENTS.c.public_longitude).label("longitude_sum"),
            *sums,
        )
        .where(INCIDENTS.c.public_latitude.is_not(None), INCIDENTS.c.public_longitude.is_not(None))
        .group_by(INCIDENTS.c.status, x, y)
    )
    for row in connection.execute(finest):
        row_sums = [row._mapping[name] or 0 for name in SUM_COLUMNS]
        status = PublicationStatus(row.status)
        for level in LEVELS:
            shift = MAX_LEVEL - level
            cell = cells[(level, status, row.cell_x >> shift, row.cell_y >> shift)]
            for i, value in enumerate(row_sums):
                cell[i] += value
    return cells


def rebuild(connection: sa.Connection) -> int:
    """Recompute the whole rollup from the incidents (after a bulk load); returns the number of cells."""
    rows = [_cell_row(key, sums) for key, sums in computed(connection).items()]
    connection.execute(sa.delete(CELLS))
    for start in range(0, len(rows), 10_000):
        connection.execute(sa.insert(CELLS), rows[start : start + 10_000])
    return len(rows)


def check(connection: sa.Connection, limit: int | None = None) -> list[str]:
    """The cells that are not what a rebuild would give (at most limit), each described.

    Sums of coordinates are compared to a millionth of a degree per incident: a rollup kept by adding and
    subtracting floats drifts in the last bits, and a cell's mean position is all it is used for.
    """
    expected = {key: _cell_row(key, sums) for key, sums in computed(connection).items()}
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in connection.execute(sa.select(CELLS)):
        mapping = dict(row._mapping)
        mapping["status"] = PublicationStatus(mapping["status"])
        found[tuple(mapping[name] for name in CELL_KEY)] = mapping
    wrong = []
    for key in sorted(expected.keys() | found.keys(), key=str):
        want, have = expected.get(key), found.get(key)
        if want is None or have is None or not _same(want, have):
            wrong.append(f"map cell {key}: holds {_sums(have)}, the incidents give {_sums(want)}")
            if limit is not None and len(wrong) >= limit:
                break
    return wrong


def _same(want: Mapping[str, Any], have: Mapping[str, Any]) -> bool:
    tolerance = 1e-6 * max(1, int(want["incident_count"]))
    for name in SUM_COLUMNS:
        if name.endswith("_sum"):
            if not math.isclose(want[name], have[name], rel_tol=0, abs_tol=tolerance):
                return False
        elif int(want[name]) != int(have[name]):
            return False
    return True


def _sums(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "nothing"
    return ", ".join(f"{name} {row[name]}" for name in SUM_COLUMNS if row[name])

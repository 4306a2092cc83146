"""What the map shows of an area: the incidents themselves, or where there are too many, counts per cell.

No answer holds more than about FEATURE_LIMIT features: an area with more matching incidents is answered
with one cluster per grid cell, each with its count and casualty sums (lows and highs added separately).
Without filters the cells come from the rollup (derived.map_cells), a few hundred rows whatever the size of
the database; with filters they are computed from the incidents with a covering index.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from incidents.domain.geometry import BoundingBox
from incidents.domain.map_grid import (
    CASUALTY_COLUMNS,
    CELLS,
    MAX_LEVEL,
    MIN_LEVEL,
    TOTAL_LEVEL,
    cell_expressions,
    cell_range,
    cell_size,
)
from incidents.extensions import db
from incidents.models import Incident, IncidentType, incident_type_links
from incidents.queries.selection import incident_conditions, visible_statuses, within
from incidents.queries.shown import location_columns
from incidents.schemas.filters import active_filters
from incidents.vocabulary import CasualtyCategory

FEATURE_LIMIT = 1500  # incidents drawn one by one; more than this in view are drawn as clusters
FEW_IN_AREA = 200_000  # an area with fewer incidents than this is scanned rather than looked up by type
MAX_CELLS_PER_SIDE = 40  # so that an aggregated answer has at most about 1,700 cells
MAP_CATEGORIES = (CasualtyCategory.KILLED, CasualtyCategory.INJURED, CasualtyCategory.DETAINED)

Ranges = dict[str, tuple[int, int]]


@dataclass
class AreaView:
    """The incidents in an area, or clusters of them; count and casualty sums of what is drawn."""

    incidents: list[dict[str, Any]] = field(default_factory=list)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    ranges: Ranges = field(default_factory=dict)
    level: int | None = None

    @property
    def aggregated(self) -> bool:
        return self.level is not None


@dataclass
class SelectionSummary:
    """How many incidents a filter selects, how many of them can be placed on a map, and their totals."""

    count: int
    located: int
    ranges: Ranges
    first_date: dt.date | None
    last_date: dt.date | None


def _uses_rollup(filters: dict[str, Any]) -> bool:
    """The rollup is kept per status only: any other filter needs the incidents themselves."""
    return not (set(active_filters(filters)) - {"status", "bbox"})


def aggregation_level(bbox: BoundingBox, zoom: int) -> int:
    """The grid level for an area: cells of about 64 pixels at this zoom, at most 40 cells across."""
    span = max(bbox.width, bbox.height, 1e-9)
    by_box = math.floor(math.log2(360.0 * MAX_CELLS_PER_SIDE / span))
    return max(MIN_LEVEL, min(by_box, zoom + 2))


def area_view(filters: dict[str, Any], bbox: BoundingBox, zoom: int, *, staff: bool) -> AreaView:
    """The incidents matching filters within bbox, or clusters of them when there are too many."""
    if bbox.height <= 0 or bbox.width <= 0:
        return AreaView()
    level = aggregation_level(bbox, zoom)
    statuses = visible_statuses(filters, staff=staff)
    # How many incidents the area holds at all: from the rollup, a few rows whatever the database's size.
    unfiltered = _rollup_clusters(statuses, bbox, min(level, MAX_LEVEL))
    few_in_area = unfiltered.count < FEW_IN_AREA
    conditions = incident_conditions(filters, staff=staff, few_in_area=few_in_area)
    conditions += within(bbox)
    if _uses_rollup(filters) and unfiltered.count > FEATURE_LIMIT:
        return unfiltered
    # One more than the limit: if it comes, there are too many to draw one by one (no separate count).
    columns = _feature_columns(staff=staff)
    rows = list(db.session.execute(sa.select(*columns).where(*conditions).limit(FEATURE_LIMIT + 1)))
    if len(rows) > FEATURE_LIMIT:
        return _computed_clusters(conditions, level)
    return _incident_features(rows)


def _sums(row: Any, *, one_incident: bool = False) -> Ranges:
    """Ranges per category from a row; one incident's "0 killed" is a figure, a sum of nothing is not."""
    ranges: Ranges = {}
    for category in CasualtyCategory:
        low = row._mapping[f"{category.value}_low"]
        high = row._mapping[f"{category.value}_high"]
        if high or (one_incident and high is not None):
            ranges[category.value] = (int(low or 0), int(high))
    return ranges


def _add_ranges(total: Ranges, more: Ranges) -> None:
    for name, (low, high) in more.items():
        old_low, old_high = total.get(name, (0, 0))
        total[name] = (old_low + low, old_high + high)


def _cluster(
    level: int, x: int, y: int, count: int, lat_sum: float, lon_sum: float, ranges: Ranges
) -> dict[str, Any]:
    size = cell_size(level)
    west, south = x * size - 180.0, y * size - 90.0
    return {
        "count": count,
        "latitude": lat_sum / count,
        "longitude": lon_sum / count,
        "bounds": [west, south, min(west + size, 180.0), min(south + size, 90.0)],
        "ranges": ranges,
    }


def _rollup_clusters(statuses: list[Any], bbox: BoundingBox, level: int) -> AreaView:
    table = CELLS
    y_first, y_last = _lat_cells(bbox, level)
    conditions = [
        table.c.level == level,
        table.c.status.in_(statuses),
        table.c.cell_y.between(y_first, y_last),
    ]
    if bbox.crosses_antimeridian:
        east_first, _ = cell_range(bbox.west, 180.0, level)
        _, west_last = cell_range(-180.0, bbox.east, level)
        conditions.append(sa.or_(table.c.cell_x >= east_first, table.c.cell_x <= west_last))
    elif bbox.width < 360:
        x_first, x_last = cell_range(bbox.west, bbox.east, level)
        conditions.append(table.c.cell_x.between(x_first, x_last))
    query = (
        sa.select(
            table.c.cell_x,
            table.c.cell_y,
            sa.func.sum(table.c.incident_count).label("incident_count"),
            sa.func.sum(table.c.latitude_sum).label("latitude_sum"),
            sa.func.sum(table.c.longitude_sum).label("longitude_sum"),
            *(sa.func.sum(table.c[name]).label(name) for name in CASUALTY_COLUMNS),
        )
        .where(*conditions)
        .group_by(table.c.cell_x, table.c.cell_y)
    )
    return _clustered(level, db.session.execute(query))


def _lat_cells(bbox: BoundingBox, level: int) -> tuple[int, int]:
    size = cell_size(level)
    last = (1 << (level - 1)) - 1
    return (
        min(math.floor((bbox.south + 90.0) / size), last),
        min(math.floor((bbox.north + 90.0) / size), last),
    )


def _computed_clusters(conditions: list[sa.ColumnElement[bool]], level: int) -> AreaView:
    x, y = cell_expressions(level, db.session.get_bind().dialect.name)
    query = (
        sa.select(
            x.label("cell_x"),
            y.label("cell_y"),
            sa.func.count().label("incident_count"),
            sa.func.sum(Incident.public_latitude).label("latitude_sum"),
            sa.func.sum(Incident.public_longitude).label("longitude_sum"),
            *(sa.func.sum(getattr(Incident, name)).label(name) for name in CASUALTY_COLUMNS),
        )
        .where(*conditions)
        .group_by(x, y)
    )
    return _clustered(level, db.session.execute(query))


def _clustered(level: int, rows: Any) -> AreaView:
    """A view of the cells' rows (cell_x, cell_y, incident_count, coordinate and casualty sums)."""
    view = AreaView(level=level)
    for row in rows:
        count = int(row.incident_count)
        if count <= 0:  # a rollup cell emptied by deletions
            continue
        ranges = _sums(row)
        view.clusters.append(
            _cluster(level, row.cell_x, row.cell_y, count, row.latitude_sum, row.longitude_sum, ranges)
        )
        view.count += count
        _add_ranges(view.ranges, ranges)
    return view


def _feature_columns(*, staff: bool) -> list[Any]:
    """What a feature shows of an incident: its public location to the public (which is also where areas and
    clusters place it for everyone), its recorded location, marked when coarsened, to staff."""
    return [
        Incident.id,
        Incident.public_id,
        Incident.title,
        Incident.start_date,
        Incident.end_date,
        Incident.date_precision,
        Incident.admin1,
        Incident.admin2,
        Incident.country,
        *location_columns(staff=staff),
        Incident.location_coarsened,
        Incident.verification_grade,
        Incident.source_count,
        *(getattr(Incident, name) for name in CASUALTY_COLUMNS),
    ]


def _incident_features(rows: list[Any]) -> AreaView:
    # Sorted here, not by ORDER BY: that would tempt SQLite to walk the date index instead of the area's.
    rows = sorted(rows, key=lambda row: (row.start_date, row.id))
    types = incident_types_of([row.id for row in rows])
    view = AreaView()
    for row in rows:
        record = dict(row._mapping)
        record["ranges"] = _sums(row, one_incident=True)
        record["types"] = types.get(row.id, [])
        view.incidents.append(record)
        view.count += 1
        _add_ranges(view.ranges, record["ranges"])
    return view


def incident_types_of(ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(slug, label) of each incident's types, by incident id, in one query."""
    found: dict[int, list[tuple[str, str]]] = {}
    if not ids:
        return found
    query = (
        sa.select(incident_type_links.c.incident_id, IncidentType.slug, IncidentType.label)
        .join(IncidentType, IncidentType.id == incident_type_links.c.incident_type_id)
        .where(incident_type_links.c.incident_id.in_(ids))
        .order_by(IncidentType.label)
    )
    for incident_id, slug, label in db.session.execute(query):
        found.setdefault(incident_id, []).append((slug, label))
    return found


def selection_summary(filters: dict[str, Any], *, staff: bool) -> SelectionSummary:
    """Count, located count, casualty totals and date extent of everything the filters select."""
    conditions = incident_conditions(filters, staff=staff)
    if _uses_rollup(filters) and not filters.get("bbox"):
        statuses = visible_statuses(filters, staff=staff)
        table = CELLS
        totals = db.session.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(table.c.incident_count), 0).label("incident_count"),
                *(sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in CASUALTY_COLUMNS),
            ).where(table.c.level == TOTAL_LEVEL, table.c.status.in_(statuses))
        ).one()
        located = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(table.c.incident_count), 0)).where(
                table.c.level == MIN_LEVEL, table.c.status.in_(statuses)
            )
        )
        count = int(totals.incident_count)
    else:
        totals = db.session.execute(
            sa.select(
                sa.func.count().label("incident_count"),
                sa.func.count(Incident.public_latitude).label("located"),
                *(sa.func.sum(getattr(Incident, name)).label(name) for name in CASUALTY_COLUMNS),
            ).where(*conditions)
        ).one()
        count, located = int(totals.incident_count), totals.located
    # Two queries, so that each can read the first or last entry of the (status, start_date) index.
    first = db.session.scalar(sa.select(sa.func.min(Incident.start_date)).where(*conditions))
    last = db.session.scalar(sa.select(sa.func.max(Incident.start_date)).where(*conditions))
    return SelectionSummary(count, int(located or 0), _sums(totals), first, last)


def located_extent(filters: dict[str, Any], *, staff: bool) -> BoundingBox | None:
    """The area the selected incidents with coordinates lie in (from the finest rollup cells if possible)."""
    if _uses_rollup(filters) and not filters.get("bbox"):
        statuses = visible_statuses(filters, staff=staff)
        row = db.session.execute(
            sa.select(
                sa.func.min(CELLS.c.cell_x),
                sa.func.min(CELLS.c.cell_y),
                sa.func.max(CELLS.c.cell_x),
                sa.func.max(CELLS.c.cell_y),
            ).where(CELLS.c.level == MAX_LEVEL, CELLS.c.status.in_(statuses))
        ).one()
        if row[0] is None:
            return None
        size = cell_size(MAX_LEVEL)
        return BoundingBox(
            row[0] * size - 180.0,
            row[1] * size - 90.0,
            min((row[2] + 1) * size - 180.0, 180.0),
            min((row[3] + 1) * size - 90.0, 90.0),
        )
    conditions = incident_conditions(filters, staff=staff)
    row = db.session.execute(
        sa.select(
            sa.func.min(Incident.public_longitude),
            sa.func.min(Incident.public_latitude),
            sa.func.max(Incident.public_longitude),
            sa.func.max(Incident.public_latitude),
        ).where(*conditions, Incident.public_latitude.is_not(None))
    ).one()
    if row[0] is None:
        return None
    return BoundingBox(*(float(value) for value in row))

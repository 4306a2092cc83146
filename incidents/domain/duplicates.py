"""Finding possible duplicates: same type, within DAYS days and KILOMETRES km (geodesic), or, without
coordinates, the same place name in the same country.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import sqlalchemy as sa

from incidents.extensions import db
from incidents.geocoding.distance import GEODESIC_PER_GREAT_CIRCLE, geodesic_km, great_circle_km
from incidents.geocoding.names import fold
from incidents.models import DuplicateFlag, Incident, incident_type_links
from incidents.vocabulary import DuplicateStatus, PublicationStatus

DAYS = 3
KILOMETRES = 10.0
_KM_PER_DEGREE = 111.32
_CELL = 0.2  # degrees: a grid cell of the batch index, about 22 km north to south
# Days of a slot of the batch index; incidents spanning more days than _LONG_SPAN are indexed in longer slots.
_SLOT_DAYS = 8
_LONG_SPAN = 31
_LONG_SLOT_DAYS = 128
# Half the side of the box searched around a point, in degrees of latitude: KILOMETRES and a margin.
_SPAN = KILOMETRES / _KM_PER_DEGREE * 1.01
# The geodesic distance is at least this many times the great circle (see geocoding.distance).
_LEAST_GEODESIC = GEODESIC_PER_GREAT_CIRCLE[0]


_TYPE_SETS: dict[frozenset[int], frozenset[int]] = {}


class Footprint(NamedTuple):
    """What duplicate finding compares of an incident. key is its id (or, in a dry run, a row number).

    A named tuple: an import makes one per row and keeps them all, and a tuple is made several times faster
    than a frozen dataclass.
    """

    key: int
    start: int  # date ordinals
    end: int
    latitude: float | None
    longitude: float | None
    place: str  # folded place name
    country: str
    types: frozenset[int]
    row: int = 0  # the row of the file it was imported from; 0 for one already stored

    @classmethod
    def of(cls, incident: Incident) -> Footprint:
        return cls.make(
            incident.id,
            incident.start_date,
            incident.end_date,
            incident.latitude,
            incident.longitude,
            incident.place_name,
            incident.country,
            (t.id for t in incident.types),
        )

    @classmethod
    def make(
        cls,
        key: int,
        start: dt.date,
        end: dt.date | None,
        latitude: float | None,
        longitude: float | None,
        place: str,
        country: str,
        types: Iterable[int],
        row: int = 0,
    ) -> Footprint:
        # An import makes a footprint per row: the few sets of types and place names are shared, not copied.
        type_set = frozenset(types)
        return cls(
            key,
            start.toordinal(),
            (end or start).toordinal(),
            latitude,
            longitude,
            _folded_place(place or ""),
            country,
            _TYPE_SETS.setdefault(type_set, type_set),
            row,
        )

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@functools.lru_cache(maxsize=16384)
def _folded_place(place: str) -> str:
    return sys.intern(fold(place))


@dataclass(frozen=True, slots=True)
class Match:
    other: Footprint
    distance_km: float | None  # None: matched by place name
    days_apart: int


def compare(a: Footprint, b: Footprint) -> Match | None:
    """b as a possible duplicate of a, or None."""
    days = max(0, b.start - a.end, a.start - b.end)
    if days > DAYS or a.types.isdisjoint(b.types):
        return None
    if a.latitude is not None and a.longitude is not None:
        if b.latitude is None or b.longitude is None:
            return None
        # The great circle first: the geodesic distance is exact and slower, and it is no shorter than
        # _LEAST_GEODESIC times the great circle.
        if great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude) * _LEAST_GEODESIC > KILOMETRES:
            return None
        km = geodesic_km(a.latitude, a.longitude, b.latitude, b.longitude)
        return Match(b, round(km, 3), days) if km <= KILOMETRES else None
    if not b.has_point and a.place and a.place == b.place and a.country == b.country:
        return Match(b, None, days)
    return None


class FootprintIndex:
    """Footprints by slot of days and grid cell (or place name), to find each one's neighbours without a scan.

    A footprint is kept under every slot its dates touch: slots of _SLOT_DAYS days, or of _LONG_SLOT_DAYS for
    one spanning more than _LONG_SPAN days, kept apart so that it is kept a few times, not hundreds. Keys are
    ids, one footprint each.
    """

    def __init__(self) -> None:
        # Keyed by one int for slot and cell (slot * _CELLS + cell code): lighter than tuples, and quick.
        self._points: dict[int, list[Footprint]] = {}
        self._long_points: dict[int, list[Footprint]] = {}
        self._places: dict[tuple[int, str, str], list[Footprint]] = {}
        self._long_places: dict[tuple[int, str, str], list[Footprint]] = {}
        self._added: dict[int, int] = {}  # key → how many were added before it: the order of equals

    def add(self, footprint: Footprint) -> None:
        start, end = footprint.start, footprint.end
        long = end - start > _LONG_SPAN
        size = _LONG_SLOT_DAYS if long else _SLOT_DAYS
        slots = range(start // size, end // size + 1)
        if footprint.latitude is not None and footprint.longitude is not None:
            cell = _code(_cell_of(footprint.latitude), _cell_of(footprint.longitude))
            _add(
                self._long_points if long else self._points,
                [slot * _CELLS + cell for slot in slots],
                footprint,
            )
        elif footprint.place:
            place = (footprint.country, footprint.place)
            _add(self._long_places if long else self._places, [(slot, *place) for slot in slots], footprint)
        else:
            return
        self._added[footprint.key] = len(self._added)

    def matches(self, footprint: Footprint) -> list[Match]:
        """The indexed footprints that may duplicate this one, each once.

        In the order of an index by day: first those spanning more than _LONG_SPAN days by cell, then by the
        first day of the window (DAYS around this one's dates) each lies on and by cell; equals in the order
        they were added.
        """
        first, last = footprint.start - DAYS, footprint.end + DAYS
        if footprint.latitude is not None and footprint.longitude is not None:
            cells = _cells_near(footprint.latitude, footprint.longitude)
            near = _gathered(self._long_points, first // _LONG_SLOT_DAYS, last // _LONG_SLOT_DAYS, cells)
            near += _gathered(self._points, first // _SLOT_DAYS, last // _SLOT_DAYS, cells)
        elif footprint.place:
            place = (footprint.country, footprint.place)
            near = _gathered_places(
                self._long_places, first // _LONG_SLOT_DAYS, last // _LONG_SLOT_DAYS, place
            )
            near += _gathered_places(self._places, first // _SLOT_DAYS, last // _SLOT_DAYS, place)
        else:
            return []
        seen: set[int] = {footprint.key}
        found = []
        for other in near:
            if other.key not in seen:
                seen.add(other.key)
                match = compare(footprint, other)
                if match is not None:
                    found.append(match)
        if len(found) > 1:
            added = self._added

            def in_order(match: Match) -> tuple[int, int, int, int]:
                other = match.other
                if other.latitude is None or other.longitude is None:
                    return (0, 0, 0, added[other.key])
                cell = cells.index(_code(_cell_of(other.latitude), _cell_of(other.longitude)))
                if other.end - other.start > _LONG_SPAN:
                    return (0, 0, cell, added[other.key])
                return (1, max(other.start, first), cell, added[other.key])

            found.sort(key=in_order)
        return found


def _add(table: dict[Any, list[Footprint]], keys: list[Any], footprint: Footprint) -> None:
    for key in keys:
        entries = table.get(key)
        if entries is None:
            table[key] = [footprint]
        else:
            entries.append(footprint)


def _gathered(table: dict[int, list[Footprint]], first: int, last: int, cells: list[int]) -> list[Footprint]:
    """The footprints kept under slots first..last in these cells (a footprint under two slots twice)."""
    found: list[Footprint] = []
    if table:
        for slot in range(first, last + 1):
            base = slot * _CELLS
            for cell in cells:
                entries = table.get(base + cell)
                if entries:
                    found += entries
    return found


def _gathered_places(
    table: dict[tuple[int, str, str], list[Footprint]], first: int, last: int, place: tuple[str, str]
) -> list[Footprint]:
    found: list[Footprint] = []
    for slot in range(first, last + 1):
        found += table.get((slot, *place), ())
    return found


def _cells_near(latitude: float, longitude: float) -> list[int]:
    """The cells a box of KILOMETRES around the point touches: one to four, away from the poles."""
    floor = math.floor
    shrink = math.cos(math.radians(min(abs(latitude) + _SPAN, 89.9)))
    lon_span = min(_SPAN / shrink, 180.0)
    # The columns at offsets from -lon_span to lon_span, one cell apart, with both ends: every column the
    # box touches. (Iterating a set of ints depends on how it was filled, and the order of matches on it.)
    width = lon_span + lon_span
    count = max(1, math.ceil(width / _CELL))
    columns = {floor((longitude + (-lon_span + width * i / count)) / _CELL) for i in range(count + 1)}
    south = _ROWS // 2
    rows = range(floor((latitude - _SPAN) / _CELL) + south, floor((latitude + _SPAN) / _CELL) + south + 1)
    return [row * _COLUMNS + column % _COLUMNS for row in rows for column in columns]


_ROWS = int(180 / _CELL) + 2
_COLUMNS = int(360 / _CELL)
_CELLS = _ROWS * _COLUMNS


def _cell_of(degrees: float) -> int:
    return math.floor(degrees / _CELL)


def _code(row: int, column: int) -> int:
    """One int for a cell: rows from the south pole up, columns around the world (wrapping at 180°)."""
    return (row + _ROWS // 2) * _COLUMNS + column % _COLUMNS


def find_duplicates(incident: Incident) -> list[tuple[Incident, Match]]:
    """Incidents (not retracted) that may be the same event as this one, nearest first."""
    if not incident.types:
        return []
    footprint = Footprint.of(incident)
    window_start = incident.start_date - dt.timedelta(days=DAYS)
    window_end = (incident.end_date or incident.start_date) + dt.timedelta(days=DAYS)
    query = sa.select(Incident).where(
        Incident.id != incident.id,
        Incident.status != PublicationStatus.RETRACTED,
        sa.func.coalesce(Incident.end_date, Incident.start_date) >= window_start,
        Incident.start_date <= window_end,
        sa.exists()
        .where(incident_type_links.c.incident_id == Incident.id)
        .where(incident_type_links.c.incident_type_id.in_(sorted(footprint.types))),
    )
    if incident.latitude is not None and incident.longitude is not None:  # footprint.has_point
        query = query.where(Incident.latitude.between(incident.latitude - _SPAN, incident.latitude + _SPAN))
    elif footprint.place:
        query = query.where(Incident.latitude.is_(None), Incident.country == incident.country)
    else:
        return []
    found = []
    for other in db.session.scalars(query):
        match = compare(footprint, Footprint.of(other))
        if match is not None:
            found.append((other, match))
    found.sort(key=lambda pair: (pair[1].distance_km or 0.0, pair[1].days_apart, pair[0].id))
    return found


def batch_matches(connection: sa.Connection, new: list[Footprint]) -> list[tuple[Footprint, Match]]:
    """Possible duplicates of new incidents (just written, or rows of a dry run with negative keys): among
    themselves and against the incidents in the database (not retracted) over the same dates.
    """
    if not new:
        return []
    index = FootprintIndex()
    new_keys = {footprint.key for footprint in new}
    first = dt.date.fromordinal(min(f.start for f in new) - DAYS)
    last = dt.date.fromordinal(max(f.end for f in new) + DAYS)
    # The new incidents just written are in the database too. Their ids are usually one run, which the query
    # can leave out instead of reading them back to drop them.
    low, high = min(new_keys), max(new_keys)
    run = (low, high) if high - low + 1 == len(new_keys) else None
    for footprint in stored_footprints(connection, first, last, excluding=run):
        if footprint.key not in new_keys:
            index.add(footprint)
    found = []
    for footprint in new:
        for match in index.matches(footprint):
            found.append((footprint, match))
        index.add(footprint)
    return found


def stored_footprints(
    connection: sa.Connection, first: dt.date, last: dt.date, *, excluding: tuple[int, int] | None = None
) -> Iterator[Footprint]:
    """Footprints of the incidents (not retracted) that overlap first..last, read in one streamed query;
    without those whose id is in the range excluding (both ends included).
    """
    table = cast(sa.Table, Incident.__table__)
    query = (
        sa.select(
            table.c.id,
            table.c.start_date,
            table.c.end_date,
            table.c.latitude,
            table.c.longitude,
            table.c.place_name,
            table.c.country,
            incident_type_links.c.incident_type_id,
        )
        .join(incident_type_links, incident_type_links.c.incident_id == table.c.id)
        .where(
            table.c.status != PublicationStatus.RETRACTED,
            sa.func.coalesce(table.c.end_date, table.c.start_date) >= first,
            table.c.start_date <= last,
        )
        .order_by(table.c.id)
    )
    if excluding is not None:
        query = query.where(sa.not_(table.c.id.between(*excluding)))
    current: Any = None
    types: list[int] = []
    for row in connection.execute(query.execution_options(yield_per=5000)):
        if current is not None and row.id != current.id:
            yield _footprint(current, types)
            types = []
        current = row
        types.append(row.incident_type_id)
    if current is not None:
        yield _footprint(current, types)


def _footprint(row: sa.Row[Any], types: list[int]) -> Footprint:
    return Footprint.make(
        row.id, row.start_date, row.end_date, row.latitude, row.longitude, row.place_name, row.country, types
    )


def open_flags(incident_id: int) -> list[DuplicateFlag]:
    """The open flags that name this incident, on either side."""
    query = (
        sa.select(DuplicateFlag)
        .where(
            DuplicateFlag.status == DuplicateStatus.OPEN,
            sa.or_(DuplicateFlag.incident_id == incident_id, DuplicateFlag.candidate_id == incident_id),
        )
        .order_by(DuplicateFlag.id)
    )
    return list(db.session.scalars(query))

"""Finding possible duplicates: same type, within DAYS days and KILOMETRES km (geodesic), or, without
coordinates, the same place name in the same country.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from geopy.distance import geodesic

from incidents.extensions import db
from incidents.geocoding.gazetteer import _haversine_km, fold
from incidents.models import DuplicateFlag, Incident, incident_type_links
from incidents.vocabulary import PublicationStatus

DAYS = 3
KILOMETRES = 10.0
_KM_PER_DEGREE = 111.32
_CELL = 0.2  # degrees: a grid cell of the batch index, about 22 km north to south
# Incidents spanning more days than this are indexed once per cell, not once per day.
_LONG_SPAN = 31


_TYPE_SETS: dict[frozenset[int], frozenset[int]] = {}


@dataclass(frozen=True, slots=True)
class Footprint:
    """What duplicate finding compares of an incident. key is its id (or, in a dry run, a row number)."""

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
            sys.intern(fold(place or "")),
            country,
            _TYPE_SETS.setdefault(type_set, type_set),
            row,
        )

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass(frozen=True, slots=True)
class Match:
    other: Footprint
    distance_km: float | None  # None: matched by place name
    days_apart: int


def compare(a: Footprint, b: Footprint) -> Match | None:
    """b as a possible duplicate of a, or None."""
    if not a.types & b.types:
        return None
    days = max(0, b.start - a.end, a.start - b.end)
    if days > DAYS:
        return None
    if a.has_point and b.has_point:
        assert a.latitude is not None and a.longitude is not None
        assert b.latitude is not None and b.longitude is not None
        # The great circle first: geodesic distance is exact and slow, and differs from it by under 0.6 %.
        if _haversine_km(a.latitude, a.longitude, b.latitude, b.longitude) > KILOMETRES * 1.006:
            return None
        km = geodesic((a.latitude, a.longitude), (b.latitude, b.longitude)).km
        return Match(b, round(km, 3), days) if km <= KILOMETRES else None
    if not a.has_point and not b.has_point and a.place and a.place == b.place and a.country == b.country:
        return Match(b, None, days)
    return None


class FootprintIndex:
    """Footprints by day and grid cell (or place name), to find each one's neighbours without a scan."""

    def __init__(self) -> None:
        # Keyed by one int for day and cell (day * _CELLS + cell code): lighter than tuples, and quick.
        self._points: dict[int, list[Footprint]] = defaultdict(list)
        self._long: dict[int, list[Footprint]] = defaultdict(list)
        self._places: dict[tuple[str, str], list[Footprint]] = defaultdict(list)

    def add(self, footprint: Footprint) -> None:
        if footprint.has_point:
            assert footprint.latitude is not None and footprint.longitude is not None
            cell = _code(_cell_of(footprint.latitude), _cell_of(footprint.longitude))
            if footprint.end - footprint.start > _LONG_SPAN:
                self._long[cell].append(footprint)
            else:
                for day in range(footprint.start, footprint.end + 1):
                    self._points[day * _CELLS + cell].append(footprint)
        elif footprint.place:
            self._places[(footprint.country, footprint.place)].append(footprint)

    def matches(self, footprint: Footprint) -> Iterator[Match]:
        """The indexed footprints that may duplicate this one, each once."""
        seen: set[int] = {footprint.key}
        for other in self._near(footprint):
            if other.key in seen:
                continue
            seen.add(other.key)
            match = compare(footprint, other)
            if match is not None:
                yield match

    def _near(self, footprint: Footprint) -> Iterator[Footprint]:
        if not footprint.has_point:
            yield from self._places.get((footprint.country, footprint.place), [])
            return
        assert footprint.latitude is not None and footprint.longitude is not None
        # The cells a box of KILOMETRES around the point touches: one to four, away from the poles.
        span = KILOMETRES / _KM_PER_DEGREE * 1.01
        latitude, longitude = footprint.latitude, footprint.longitude
        shrink = math.cos(math.radians(min(abs(latitude) + span, 89.9)))
        lon_span = min(span / shrink, 180.0)
        rows = range(_cell_of(latitude - span), _cell_of(latitude + span) + 1)
        columns = {_cell_of(longitude + d) for d in _steps(-lon_span, lon_span)}
        cells = [_code(row, column) for row in rows for column in columns]
        for cell in cells:
            yield from self._long.get(cell, [])
        points = self._points
        for day in range(footprint.start - DAYS, footprint.end + DAYS + 1):
            base = day * _CELLS
            for cell in cells:
                found = points.get(base + cell)
                if found:
                    yield from found


_ROWS = int(180 / _CELL) + 2
_COLUMNS = int(360 / _CELL)
_CELLS = _ROWS * _COLUMNS


def _cell_of(degrees: float) -> int:
    return math.floor(degrees / _CELL)


def _code(row: int, column: int) -> int:
    """One int for a cell: rows from the south pole up, columns around the world (wrapping at 180°)."""
    return (row + _ROWS // 2) * _COLUMNS + column % _COLUMNS


def _steps(low: float, high: float) -> list[float]:
    """Offsets from low to high, one cell apart, with both ends: every column the span touches."""
    count = max(1, math.ceil((high - low) / _CELL))
    return [low + (high - low) * i / count for i in range(count + 1)]


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
    if footprint.has_point:
        assert incident.latitude is not None and incident.longitude is not None
        span = KILOMETRES / _KM_PER_DEGREE * 1.01
        query = query.where(Incident.latitude.between(incident.latitude - span, incident.latitude + span))
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


def flag_duplicates(incident: Incident) -> list[DuplicateFlag]:
    """Flag this incident's possible duplicates for an editor (pairs flagged before are left as they are)."""
    flags = []
    for other, match in find_duplicates(incident):
        later, earlier = max(incident.id, other.id), min(incident.id, other.id)
        exists = db.session.scalar(
            sa.select(DuplicateFlag.id).where(
                DuplicateFlag.incident_id == later, DuplicateFlag.candidate_id == earlier
            )
        )
        if exists is not None:
            continue
        flag = DuplicateFlag(
            incident_id=later,
            candidate_id=earlier,
            distance_km=match.distance_km,
            days_apart=match.days_apart,
        )
        db.session.add(flag)
        flags.append(flag)
    db.session.flush()
    return flags


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
    for footprint in stored_footprints(connection, first, last):
        if footprint.key not in new_keys:
            index.add(footprint)
    found = []
    for footprint in new:
        for match in index.matches(footprint):
            found.append((footprint, match))
        index.add(footprint)
    return found


def stored_footprints(connection: sa.Connection, first: dt.date, last: dt.date) -> Iterator[Footprint]:
    """Footprints of the incidents (not retracted) that overlap first..last, read in one streamed query."""
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


def insert_flags(connection: sa.Connection, pairs: Iterable[tuple[int, int, Match]]) -> int:
    """Insert open flags for (incident id, other id, match) pairs; returns how many.

    For the pairs batch_matches finds after an import: each has a new incident, which no flag names yet.
    """
    rows = {}
    for a, b, match in pairs:
        later, earlier = max(a, b), min(a, b)
        rows[(later, earlier)] = {
            "incident_id": later,
            "candidate_id": earlier,
            "distance_km": match.distance_km,
            "days_apart": match.days_apart,
        }
    if rows:
        now = dt.datetime.now(dt.UTC)
        table = cast(sa.Table, DuplicateFlag.__table__)
        connection.execute(
            sa.insert(table), [row | {"status": "open", "created_at": now} for row in rows.values()]
        )
    return len(rows)

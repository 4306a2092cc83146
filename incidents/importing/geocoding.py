"""The geocoding step of an import: place names without coordinates are looked up, points without admin
regions are given them, and nothing is guessed: a name with several candidates is reported, not chosen, and so
is a name the row's own region does not hold.

Precision never gets finer than the file says: a town found for a row the file places only in a region keeps
the region's precision. Coordinates with no stated precision are taken as "near" (about 25 km).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from incidents.geocoding import Geocoder, GeocoderError, PlaceCandidate
from incidents.geocoding.distance import great_circle_km
from incidents.geocoding.gazetteer import fold, strip_region_kind
from incidents.importing.formats.base import ImportRecord, column_for
from incidents.importing.formats.precision_codes import coarser
from incidents.importing.report import Problem, Severity
from incidents.vocabulary import LocationMethod, LocationPrecision

# Admin regions a reverse look-up may fill, by the row's precision: the nearest town's admin-2 region says
# nothing about a point known only to its admin-1 region.
_FILLS_ADMIN1 = {LocationPrecision.EXACT, LocationPrecision.NEAR, LocationPrecision.ADMIN2}
_FILLS_ADMIN2 = {LocationPrecision.EXACT, LocationPrecision.NEAR}
_SHOWN_CANDIDATES = 5
_SEARCH_LIMIT = 20
# A row is looked up by its finest name; a region column among the regions of its level, and within the
# coarser regions the row gives.
_LEVELS = {"admin1": LocationPrecision.ADMIN1, "admin2": LocationPrecision.ADMIN2}
_NARROWED_BY = {"place_name": ("admin1", "admin2"), "admin2": ("admin1",), "admin1": ()}
_WHAT = {"place_name": "place", "admin2": "admin-2 region", "admin1": "admin-1 region"}
_SOURCE_NAMES = {"gazetteer": "the gazetteer", "nominatim": "Nominatim"}


class GeocodingStep:
    """Geocodes records in place (their input data), counting what it did; one per import, with caches."""

    def __init__(self, geocoder: Geocoder | None, *, as_recorded: bool = False) -> None:
        """as_recorded: keep a stated precision whatever the row has (our own export: a round trip gives back
        what was recorded, which the entry form allowed)."""
        self._geocoder = geocoder
        self._as_recorded = as_recorded
        self._searches: dict[tuple[str, str | None], list[PlaceCandidate] | GeocoderError] = {}
        self._reverses: dict[tuple[float, float], PlaceCandidate | None | GeocoderError] = {}
        self.geocoded = 0
        self.reverse_geocoded = 0

    def apply(self, record: ImportRecord) -> str:
        """Fill the record's location; returns its LocationMethod value. Problems go on the record."""
        data = record.data
        stated = _precision(data.get("location_precision"))
        point = _point(data.get("latitude"), data.get("longitude"))
        method = LocationMethod.RECORDED
        if point is not None:
            precision = stated or LocationPrecision.NEAR
            if (
                self._geocoder is not None
                and not data.get("admin1")
                and self._reverse(record, point, precision)
            ):
                method = LocationMethod.REVERSE_GEOCODED
        elif data.get("latitude") in (None, "") and data.get("longitude") in (None, ""):
            # Without a point, a row is only as precise as its names: "exact" with no coordinates is not.
            named = _named_precision(data)
            precision = coarser(stated, named) if stated and not self._as_recorded else stated or named
            field = next((f for f in ("place_name", "admin2", "admin1") if data.get(f)), None)
            if self._geocoder is not None and field is not None:
                found = self._search(record, field, stated)
                if found is not None:
                    precision = found
                    method = LocationMethod.GEOCODED
            if stated is not None and method != LocationMethod.GEOCODED and precision != stated:
                record.problems.append(
                    Problem(
                        record.row,
                        column_for("location_precision", record.columns),
                        f"No coordinates: imported at {precision.value} precision, the finest its names "
                        f"allow, not {stated.value}.",
                        Severity.WARNING,
                    )
                )
        else:
            precision = stated or LocationPrecision.NEAR  # half a point: the schema reports it
        data["location_precision"] = precision.value
        if method == LocationMethod.GEOCODED:
            self.geocoded += 1
        elif method == LocationMethod.REVERSE_GEOCODED:
            self.reverse_geocoded += 1
        return method.value

    def _search(
        self, record: ImportRecord, field: str, stated: LocationPrecision | None
    ) -> LocationPrecision | None:
        """Look up the row's finest name (field: place_name, admin2 or admin1) within the regions it gives."""
        data = record.data
        query = str(data[field])
        country = _country(data.get("country"))
        column = column_for(field, record.columns)
        regions = {level: str(data[level]) for level in _NARROWED_BY[field] if data.get(level)}
        found = self._lookup(query, country)
        if isinstance(found, list) and len(found) >= _SEARCH_LIMIT and regions:
            # More candidates than one answer holds: the row's own may be among those left out, and its
            # absence is no conflict. Those within the row's region are asked for too.
            within = self._lookup(f"{query}, {next(iter(regions.values()))}", country)
            found = list(dict.fromkeys(found + within)) if isinstance(within, list) else within
        if isinstance(found, GeocoderError):
            record.problems.append(Problem(record.row, column, f"{query!r} not geocoded: {found.message}"))
            return None
        where = f" in {country}" if country else ""
        # Without a country the row cannot be imported at all; with one it is, without coordinates.
        severity = Severity.WARNING if country else Severity.ERROR
        outcome = "imported without coordinates" if country else "give the country or coordinates"
        candidates = _named(found, query)
        if field != "place_name":
            # A region column names a region of its level, not a town of that name.
            candidates = [c for c in candidates if c.location_precision == _LEVELS[field]]
        if not candidates:
            what = _WHAT[field]
            record.problems.append(
                Problem(
                    record.row, column, f"No {what} called {query!r} was found{where}: {outcome}.", severity
                )
            )
            return None
        chosen = _choose(candidates, regions)
        if isinstance(chosen, _Conflict):
            # The gazetteer holds towns of 1000 people or more: the row's may be one it lacks, so the row's
            # names are kept and neither is taken for the other.
            region = f"{chosen.region!r} ({column_for(chosen.level, record.columns)})"
            record.problems.append(
                Problem(
                    record.row,
                    column,
                    f"No {_WHAT[field]} called {query!r} was found in {region}: {chosen.explain()}; "
                    f"{outcome}.",
                    severity,
                )
            )
            return None
        if len(chosen) > 1:
            shown = "; ".join(_descriptions(chosen[:_SHOWN_CANDIDATES]))
            more = f" and {len(chosen) - _SHOWN_CANDIDATES} more" if len(chosen) > _SHOWN_CANDIDATES else ""
            record.problems.append(
                Problem(
                    record.row,
                    column,
                    f"{query!r} is ambiguous: {len(chosen)} places have that name ({shown}{more}); "
                    f"{outcome}, or add {_hint(chosen, field, regions)} to choose.",
                    severity,
                )
            )
            return None
        [place] = chosen
        data["latitude"], data["longitude"] = place.latitude, place.longitude
        data["country"] = data.get("country") or place.country
        if not data.get("admin1"):
            data["admin1"] = place.admin1
        if not data.get("admin2") and place.location_precision != LocationPrecision.ADMIN1:
            data["admin2"] = place.admin2
        if not data.get("place_name") and not place.is_area:
            data["place_name"] = place.name  # not a region's name: it would read as the town of that name
        return coarser(stated, place.location_precision) if stated else place.location_precision

    def _in_use(self) -> Geocoder:
        """The geocoder: apply() looks places up only when it has one."""
        if self._geocoder is None:
            raise RuntimeError("A place was looked up by an import that geocodes nothing.")
        return self._geocoder

    def _lookup(self, query: str, country: str | None) -> list[PlaceCandidate] | GeocoderError:
        key = (fold(query), country)
        if key not in self._searches:
            try:
                self._searches[key] = self._in_use().search(query, country=country, limit=_SEARCH_LIMIT)
            except GeocoderError as error:
                self._searches[key] = error
            except ValueError:
                self._searches[key] = []  # a country the geocoder does not know: the schema reports it
        return self._searches[key]

    def _reverse(
        self, record: ImportRecord, point: tuple[float, float], precision: LocationPrecision
    ) -> bool:
        data = record.data
        country = _country(data.get("country"))
        if precision not in _FILLS_ADMIN1 and country:
            return False
        key = (round(point[0], 4), round(point[1], 4))
        if key not in self._reverses:
            try:
                self._reverses[key] = self._in_use().reverse(*point)
            except GeocoderError as error:
                self._reverses[key] = error
        found = self._reverses[key]
        if isinstance(found, GeocoderError):
            column = column_for("admin1", record.columns)
            record.problems.append(
                Problem(record.row, column, f"admin regions not found: {found.message}", Severity.WARNING)
            )
            return False
        if found is None:
            return False
        if country and found.country != country:
            return False  # the nearest town is across a border: its regions are not this point's
        filled = False
        if not country and found.country:
            data["country"] = found.country
            filled = True
        if precision in _FILLS_ADMIN1 and found.admin1:
            data["admin1"] = found.admin1
            filled = True
            if precision in _FILLS_ADMIN2 and not data.get("admin2") and found.admin2:
                data["admin2"] = found.admin2
        return filled


def _precision(value: Any) -> LocationPrecision | None:
    try:
        return LocationPrecision(value) if value else None
    except ValueError:
        return None


def _named_precision(data: dict[str, Any]) -> LocationPrecision:
    """What a row without coordinates tells by its names alone."""
    if data.get("admin2"):
        return LocationPrecision.ADMIN2
    if data.get("admin1"):
        return LocationPrecision.ADMIN1
    return LocationPrecision.COUNTRY


def _point(latitude: Any, longitude: Any) -> tuple[float, float] | None:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return lat, lon


def _country(value: Any) -> str | None:
    text = str(value or "").strip().upper()
    return text if len(text) == 2 and text.isalpha() else None


def _forms(name: str) -> set[str]:
    folded = fold(name)
    return {folded, strip_region_kind(folded)} - {""}


def _named(candidates: list[PlaceCandidate], query: str) -> list[PlaceCandidate]:
    """The candidates whose name is the query (not merely begins with it), a region by its bare name too."""
    wanted = _forms(query.split(",")[0])
    return [c for c in candidates if _forms(c.name) & wanted]


def _same_region(candidate_region: str, row_region: str) -> bool:
    return bool(_forms(candidate_region) & _forms(row_region))


@dataclass(frozen=True)
class _Conflict:
    """The row's region (level: admin1 or admin2) holds none of the candidates for its name."""

    level: str
    region: str
    candidates: list[PlaceCandidate]

    def explain(self) -> str:
        """ "the gazetteer has it in Puno" """
        source = _SOURCE_NAMES.get(self.candidates[0].source, "the geocoder")
        regions = list(dict.fromkeys(r for c in self.candidates if (r := getattr(c, self.level))))
        if not regions:  # admin-1 regions only, for a row that gives an admin-2 region
            return f"{source} has only {_listing(_descriptions(self.candidates))}"
        if len(regions) == 1:
            return f"{source} has it in {regions[0]}"
        return f"{source} has places of that name in {_listing(regions)}"


def _choose(candidates: list[PlaceCandidate], regions: dict[str, str]) -> list[PlaceCandidate] | _Conflict:
    """The candidates the row's regions allow (regions: "admin1" and "admin2" to the names the row gives).

    A region keeps the candidates in it, or else those it may hold whose region the geocoder does not know
    (GeoNames gives no admin-2 region for many towns): unknown neither confirms nor contradicts. A region that
    holds none of them is a conflict: the row's names disagree, and which of them is wrong is not guessed.

    When the row gives a region and what is left is one place and areas of its name that contain it (the city
    of Ayacucho in the region of Ayacucho; Andahuaylas in its province), the row names the place: a name
    given within a region is something in that region, and the areas are no other place. Two places of a
    name stay ambiguous.
    """
    for level, region in regions.items():
        inside = [c for c in candidates if _same_region(getattr(c, level), region)]
        unknown = [c for c in candidates if not getattr(c, level) and _lies_within(c, level)]
        if not (inside or unknown):
            return _Conflict(level, region, candidates)
        candidates = inside or unknown
    places = [c for c in candidates if not c.is_area]
    if regions and len(places) == 1 and all(_contains(c, places[0]) for c in candidates if c.is_area):
        return places
    return candidates


def _lies_within(candidate: PlaceCandidate, level: str) -> bool:
    """Whether the candidate is finer than a region of the level (an admin-1 region lies in no admin-2)."""
    if not candidate.is_area:
        return True
    return level == "admin1" and candidate.location_precision == LocationPrecision.ADMIN2


def _contains(area: PlaceCandidate, place: PlaceCandidate) -> bool:
    """Whether the area is, by the geocoder's own regions, one the place lies in. A place the geocoder gives
    no admin-2 region (the city of Lima) is taken to lie in an admin-2 area of its admin-1 region only when
    the area's point is within "near" of it (about 25 km: the city of Lima and its province's point are 13 km
    apart): the town then stands for the area without moving the event further than its precision says.
    Further off (Hidalgo, Tamaulipas: 247 km), the name stays ambiguous."""
    if area.country != place.country:
        return False
    if area.location_precision == LocationPrecision.COUNTRY:
        return True
    if not _same_region(area.admin1, place.admin1):
        return False
    if area.location_precision == LocationPrecision.ADMIN1:
        return True
    if not place.admin2:
        return great_circle_km(area.latitude, area.longitude, place.latitude, place.longitude) <= _NEAR_KM
    return _same_region(area.admin2, place.admin2)


_NEAR_KM = 25.0  # what "near" precision means (DOMAIN: UCDP where_prec 2)


def _hint(candidates: list[PlaceCandidate], field: str, regions: dict[str, str]) -> str:
    """What the row may add to choose among the candidates: a region only when one of its values would."""
    options = []
    for level in _NARROWED_BY[field]:
        if level in regions:
            continue
        values = dict.fromkeys(value for c in candidates if (value := getattr(c, level)))
        for value in values:
            added = {
                lv: value if lv == level else regions[lv]
                for lv in _NARROWED_BY[field]
                if lv in regions or lv == level
            }
            chosen = _choose(candidates, added)
            if isinstance(chosen, list) and len(chosen) == 1:
                options.append(f"the {_WHAT[level]}")
                break
    return _listing([*options, "coordinates"], last="or")


def _descriptions(candidates: list[PlaceCandidate]) -> list[str]:
    """Each candidate's description; those that would read alike get their coordinates too."""
    texts = [c.description for c in candidates]
    alike = Counter(texts)
    return [
        f"{text[:-1]}, at {c.latitude:.4f}, {c.longitude:.4f})" if alike[text] > 1 else text
        for text, c in zip(texts, candidates, strict=True)
    ]


def _listing(items: list[str], last: str = "and") -> str:
    """ "A", "A and B", "A, B and C"; past _SHOWN_CANDIDATES, "A, B, C, D, E and 3 more"."""
    if len(items) > _SHOWN_CANDIDATES:
        return f"{', '.join(items[:_SHOWN_CANDIDATES])} {last} {len(items) - _SHOWN_CANDIDATES} more"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"

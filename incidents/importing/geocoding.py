"""The geocoding step of an import: place names without coordinates are looked up, points without admin
regions are given them, and nothing is guessed: a name with several candidates is reported, not chosen.

Precision never gets finer than the file says: a town found for a row the file places only in a region keeps
the region's precision. Coordinates with no stated precision are taken as "near" (about 25 km).
"""

from __future__ import annotations

import math
from typing import Any

from incidents.geocoding import Geocoder, GeocoderError, PlaceCandidate
from incidents.geocoding.gazetteer import fold, strip_region_kind
from incidents.importing.formats.base import ImportRecord, column_for
from incidents.importing.precision import coarser
from incidents.importing.report import Problem, Severity
from incidents.vocabulary import LocationMethod, LocationPrecision

# Admin regions a reverse look-up may fill, by the row's precision: the nearest town's admin-2 region says
# nothing about a point known only to its admin-1 region.
_FILLS_ADMIN1 = {LocationPrecision.EXACT, LocationPrecision.NEAR, LocationPrecision.ADMIN2}
_FILLS_ADMIN2 = {LocationPrecision.EXACT, LocationPrecision.NEAR}
_SHOWN_CANDIDATES = 5


class GeocodingStep:
    """Geocodes records in place (their input data), counting what it did; one per import, with caches."""

    def __init__(self, geocoder: Geocoder | None) -> None:
        self._geocoder = geocoder
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
            precision = coarser(stated, named) if stated else named
            query = data.get("place_name") or data.get("admin2") or data.get("admin1") or ""
            if self._geocoder is not None and query:
                found = self._search(record, query, stated)
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
        self, record: ImportRecord, query: str, stated: LocationPrecision | None
    ) -> LocationPrecision | None:
        data = record.data
        country = _country(data.get("country"))
        column = column_for("place_name" if data.get("place_name") else "admin1", record.columns)
        key = (fold(query), country)
        if key not in self._searches:
            try:
                assert self._geocoder is not None
                self._searches[key] = self._geocoder.search(query, country=country, limit=20)
            except GeocoderError as error:
                self._searches[key] = error
            except ValueError:
                self._searches[key] = []  # a country the geocoder does not know: the schema reports it
        found = self._searches[key]
        if isinstance(found, GeocoderError):
            record.problems.append(Problem(record.row, column, f"{query!r} not geocoded: {found.message}"))
            return None
        candidates = _named(found, query)
        for region in ("admin1", "admin2"):
            if data.get(region) and data.get("place_name"):
                narrowed = [c for c in candidates if _same_region(getattr(c, region), data[region])]
                candidates = narrowed or candidates
        where = f" in {country}" if country else ""
        # Without a country the row cannot be imported at all; with one it is, without coordinates.
        severity = Severity.WARNING if country else Severity.ERROR
        outcome = "imported without coordinates" if country else "give the country or coordinates"
        if not candidates:
            record.problems.append(
                Problem(
                    record.row, column, f"No place called {query!r} was found{where}: {outcome}.", severity
                )
            )
            return None
        if len(candidates) > 1:
            shown = "; ".join(c.label for c in candidates[:_SHOWN_CANDIDATES])
            more = (
                f" and {len(candidates) - _SHOWN_CANDIDATES} more"
                if len(candidates) > _SHOWN_CANDIDATES
                else ""
            )
            record.problems.append(
                Problem(
                    record.row,
                    column,
                    f"{query!r} is ambiguous: {len(candidates)} places have that name ({shown}{more}); "
                    f"{outcome}, or add the admin-1 region or coordinates to choose.",
                    severity,
                )
            )
            return None
        chosen = candidates[0]
        data["latitude"], data["longitude"] = chosen.latitude, chosen.longitude
        data["country"] = data.get("country") or chosen.country
        if not data.get("admin1"):
            data["admin1"] = chosen.admin1
        if not data.get("admin2") and chosen.location_precision != LocationPrecision.ADMIN1:
            data["admin2"] = chosen.admin2
        if not data.get("place_name"):
            data["place_name"] = chosen.name
        return coarser(stated, chosen.location_precision) if stated else chosen.location_precision

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
                assert self._geocoder is not None
                self._reverses[key] = self._geocoder.reverse(*point)
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

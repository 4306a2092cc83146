"""The one geocoder interface: place names to candidates, coordinates to a place, whatever the backend."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pycountry

from incidents.vocabulary import LocationPrecision


class GeocoderError(Exception):
    """The geocoding service failed (network down, refused, timed out); the message can be shown to users."""

    DEFAULT_MESSAGE = "The geocoding service is not available right now; try again later."

    def __init__(self, message: str = DEFAULT_MESSAGE) -> None:
        super().__init__(message)
        self.message = message


# What a candidate of each area precision is; any other is a place within an area.
_AREA_KINDS = {
    LocationPrecision.ADMIN1: "admin-1 region",
    LocationPrecision.ADMIN2: "admin-2 region",
    LocationPrecision.COUNTRY: "country",
}


@dataclass(frozen=True, slots=True)
class PlaceCandidate:
    """A place a name may refer to. Several candidates for a name are an ambiguity to show, not to guess."""

    name: str
    admin1: str
    admin2: str
    country: str  # ISO 3166-1 alpha-2, upper case; "" when the service gave none
    latitude: float
    longitude: float
    location_precision: LocationPrecision
    source: str  # "gazetteer" or "nominatim"

    def __post_init__(self) -> None:
        code = self.country
        if code and not (len(code) == 2 and code.isascii() and code.isalpha() and code.isupper()):
            raise ValueError(f"country must be an upper-case ISO 3166-1 alpha-2 code, not {self.country!r}")
        check_coordinates(self.latitude, self.longitude)

    @property
    def label(self) -> str:
        """ "Juliaca, San Roman, Puno, PE". A part equal to the one before it is said once ("Puno, PE")."""
        parts: list[str] = []
        for part in (self.name, self.admin2, self.admin1, self.country):
            if part and (not parts or part.casefold() != parts[-1].casefold()):
                parts.append(part)
        return ", ".join(parts)

    @property
    def kind(self) -> str:
        """What the candidate is: "admin-1 region", "admin-2 region", "country", "populated place" (a town or
        village of the gazetteer) or "place" (anything else a geocoder finds, down to a building).
        """
        if self.location_precision in _AREA_KINDS:
            return _AREA_KINDS[self.location_precision]
        return "populated place" if self.source == "gazetteer" else "place"

    @property
    def is_area(self) -> bool:
        """An administrative area (admin-1, admin-2 region or country), not a place within one."""
        return self.location_precision in _AREA_KINDS

    @property
    def description(self) -> str:
        """The candidate told apart from others of its name: its kind and the regions it lies in.

        "Lima (admin-1 region, PE)", "Lima (admin-2 region in Lima, PE)",
        "Lima (populated place in Lima, PE)", "Juliaca (populated place in San Roman, Puno, PE)". An admin-2
        region's own name is not repeated.
        """
        if self.location_precision == LocationPrecision.ADMIN2:
            regions = [self.admin1]  # its admin2 is itself
        elif self.is_area:
            regions = []
        else:
            regions = [self.admin2, self.admin1]
        within = ", ".join(region for region in regions if region)
        details = [self.kind + (f" in {within}" if within else "")]
        if self.country and self.location_precision != LocationPrecision.COUNTRY:
            details.append(self.country)
        return f"{self.name} ({', '.join(details)})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "admin1": self.admin1,
            "admin2": self.admin2,
            "country": self.country,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "location_precision": self.location_precision.value,
            "source": self.source,
            "label": self.label,
        }


@runtime_checkable
class Geocoder(Protocol):
    """What the app and the importers may ask of any geocoder."""

    attribution: str  # the credit its data's licence asks for, to show wherever its results are shown

    def search(self, query: str, *, country: str | None = None, limit: int = 10) -> list[PlaceCandidate]:
        """Candidates for a place name, best first; [] for a blank query or an unknown name."""
        ...

    def reverse(self, latitude: float, longitude: float) -> PlaceCandidate | None:
        """The place at or nearest to a point, with its admin regions; None when there is none near."""
        ...


def check_coordinates(latitude: float, longitude: float) -> None:
    # NaN compares false with everything, so it must be caught before the range checks.
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise ValueError("latitude and longitude must be finite numbers")
    if not -90.0 <= latitude <= 90.0:
        raise ValueError(f"latitude {latitude} is outside -90..90")
    if not -180.0 <= longitude <= 180.0:
        raise ValueError(f"longitude {longitude} is outside -180..180")


def normalise_country(country: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of a country filter ("pe", "PER", "Peru" → "PE"); None for no filter.

    Any two letters pass as they are: GeoNames uses codes ISO has not assigned, such as XK for Kosovo.
    ValueError for anything that names no country.
    """
    if country is None or not country.strip():
        return None
    text = country.strip()
    if len(text) == 2 and text.isascii() and text.isalpha():
        return text.upper()
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        raise ValueError(f"{country!r} is not a country: give an ISO 3166-1 code such as 'PE'") from None


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")

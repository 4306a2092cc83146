"""What the public sees of a sensitive location: one policy, applied by derived.public_locations everywhere.

An incident's location is coarsened when a researcher marked it sensitive, or when a location rule covers
it (a source it cites, one of its types, its admin-1 region). Coarsened:
- the coordinates are snapped to the centre of their cell in a grid of `grid` degrees (the coarsest grid of
  the mark and the rules that apply): the same point every time, in every output, so that nothing can be
  averaged out of many answers (no random jitter, which repeated reads would cancel);
- the location precision is lowered to what the grid still says (never raised);
- the place name is replaced by the admin-2 region, or the admin-1 region, or nothing: a village's name
  would point at the place the coordinates no longer show.
Staff see the recorded location, marked as sensitive; the public sees only this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from incidents.vocabulary import LocationPrecision

# What the public reads in place of a confidential source's title (exports.serialize, queries.shown).
CONFIDENTIAL_SOURCE_TITLE = "A confidential source"
DEFAULT_GRID = 0.1  # degrees: about 11 km north–south
MAX_GRID = 10.0

_ORDER = list(LocationPrecision)  # finest first


@dataclass(frozen=True)
class PublicLocation:
    latitude: float | None
    longitude: float | None
    place_name: str
    precision: LocationPrecision
    coarsened: bool


def check_grid(value: object) -> float:
    """A grid size in degrees, or ValueError saying what is wrong with it."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"A grid size is a number of degrees, not {value!r}.")
    if not 0 < value <= MAX_GRID:
        raise ValueError(f"A grid size must be more than 0 and at most {MAX_GRID:g} degrees, not {value:g}.")
    return float(value)


def precision_of_grid(grid: float) -> LocationPrecision:
    """What a point snapped to this grid still tells: a cell of 0.25° or less is "near a place" (about 25
    km), up to 1° an admin-2 region, more an admin-1 region."""
    if grid <= 0.25:
        return LocationPrecision.NEAR
    if grid <= 1.0:
        return LocationPrecision.ADMIN2
    return LocationPrecision.ADMIN1


def snap(value: float, grid: float, low: float, high: float) -> float:
    """The centre of the grid cell holding value, kept within [low, high]; rounded so that every platform
    gives the same digits."""
    centre = (math.floor(value / grid) + 0.5) * grid
    return round(min(max(centre, low), high), 6)


def coarser(first: LocationPrecision, second: LocationPrecision) -> LocationPrecision:
    return first if _ORDER.index(first) >= _ORDER.index(second) else second


def public_location(
    *,
    latitude: float | None,
    longitude: float | None,
    place_name: str,
    admin1: str,
    admin2: str,
    precision: LocationPrecision,
    grid: float | None,
) -> PublicLocation:
    """The location the public sees: the recorded one when grid is None, else coarsened to grid degrees."""
    if grid is None:
        return PublicLocation(latitude, longitude, place_name, precision, coarsened=False)
    if latitude is not None and longitude is not None:
        latitude = snap(latitude, grid, -90.0, 90.0)
        longitude = snap(longitude, grid, -180.0, 180.0)
    return PublicLocation(
        latitude,
        longitude,
        admin2 or admin1,
        coarser(precision, precision_of_grid(grid)),
        coarsened=True,
    )

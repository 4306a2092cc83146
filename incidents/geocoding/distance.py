"""Distances on the Earth: the exact geodesic one (WGS 84, as geopy measures it) and the quick great circle.

geopy's geodesic() builds a new geographiclib Geodesic (tables of series coefficients) for every distance it
measures; geodesic_km keeps one, on the same ellipsoid in the same unit, and gives the same number to the bit.

The great circle on a sphere of the mean radius is off the geodesic by less than the ellipsoid's curvature
differs from the sphere's: with latitude and longitude kept as they are, a length on the ellipsoid is between
M(0) / R = 0.99442 and M(90°) / R = 1.00449 times the same length on the sphere (M: radius of curvature in the
meridian, R: the sphere's radius; the parallels' radius N lies between). So for any two points
GEODESIC_PER_GREAT_CIRCLE[0] * great circle <= geodesic <= GEODESIC_PER_GREAT_CIRCLE[1] * great circle, with a
margin for rounding: a decision the bounds settle needs no geodesic.
"""

from __future__ import annotations

import math

from geographiclib.geodesic import Geodesic
from geopy.distance import ELLIPSOIDS

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
# Bounds of geodesic / great circle (see above), each widened by about 0.05 %.
GEODESIC_PER_GREAT_CIRCLE = (0.9940, 1.0050)

_MAJOR_KM, _, _FLATTENING = ELLIPSOIDS["WGS-84"]
# geopy's own construction (Geodesic(a in km, f)): distances come out in km, as geodesic(...).km.
_WGS84_KM = Geodesic(_MAJOR_KM, _FLATTENING)
_DISTANCE = Geodesic.DISTANCE


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """geopy's geodesic((lat1, lon1), (lat2, lon2)).km, to the bit, at a third of its cost."""
    # As geopy's Point takes coordinates: floats, with -0.0 made 0.0.
    distance: float = _WGS84_KM.Inverse(
        float(lat1 or 0.0), float(lon1 or 0.0), float(lat2 or 0.0), float(lon2 or 0.0), _DISTANCE
    )["s12"]
    return distance


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The haversine distance on a sphere of the Earth's mean radius."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    half_dphi, half_dlambda = (phi2 - phi1) / 2, math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))

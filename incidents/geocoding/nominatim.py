"""Nominatim (OpenStreetMap) through geopy: online, held to one request a second, remembered in memory.

The public server's usage policy (https://operations.osmfoundation.org/policies/nominatim/) asks for a
user agent that names the app, at most one request a second, caching, attribution, and no autocomplete:
look names up when the user asks, not on every keystroke.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from geopy import exc as geopy_exc
from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim
from geopy.location import Location

from incidents.geocoding.base import (
    GeocoderError,
    PlaceCandidate,
    check_coordinates,
    check_limit,
    normalise_country,
)
from incidents.vocabulary import LocationPrecision

SOURCE = "nominatim"
ATTRIBUTION = "Geocoding: Nominatim, data © OpenStreetMap contributors, ODbL 1.0"
DEFAULT_DOMAIN = "nominatim.openstreetmap.org"
_MOST_RESULTS = 40  # Nominatim answers with at most 40 results whatever the limit asked
_REVERSE_ZOOM = 10  # city level: reverse() names the town a point is in, like the gazetteer

# Address keys, most wanted first. Nominatim names admin levels by their place in each country's scheme:
# state is usually admin-1 and county admin-2, with province on either side.
_ADMIN1_KEYS = ("state", "region", "province")
_ADMIN2_KEYS = ("county", "province", "state_district", "district", "municipality")
_PLACE_KEYS = ("city", "town", "village", "hamlet", "municipality", "suburb", "county", "state", "country")
# Without a place_rank, the kind of result says how precise it is.
_PRECISION_BY_TYPE = {
    "country": LocationPrecision.COUNTRY,
    "state": LocationPrecision.ADMIN1,
    "region": LocationPrecision.ADMIN1,
    "county": LocationPrecision.ADMIN2,
    "state_district": LocationPrecision.ADMIN2,
    "province": LocationPrecision.ADMIN2,
}
_EXACT_CLASSES = {"building", "amenity", "shop", "tourism", "historic", "office", "leisure", "man_made"}


def precision_from_raw(raw: Mapping[str, Any]) -> LocationPrecision:
    """How precise a Nominatim result is, from its place_rank (0–30) or else its type."""
    try:
        rank = int(raw["place_rank"])
    except (KeyError, TypeError, ValueError):
        kind = str(raw.get("addresstype") or raw.get("type") or "")
        if kind in _PRECISION_BY_TYPE:
            return _PRECISION_BY_TYPE[kind]
        exact = raw.get("class") in _EXACT_CLASSES or "house_number" in (raw.get("address") or {})
        return LocationPrecision.EXACT if exact else LocationPrecision.NEAR
    if rank <= 4:
        return LocationPrecision.COUNTRY
    if rank <= 9:
        return LocationPrecision.ADMIN1
    if rank <= 12:
        return LocationPrecision.ADMIN2
    # Ranks 13–27 are settlements, suburbs, postcodes and streets: near, not at, the spot. 28–30 are
    # buildings, points of interest and house numbers.
    return LocationPrecision.EXACT if rank >= 28 else LocationPrecision.NEAR


def candidate_from_raw(raw: Mapping[str, Any]) -> PlaceCandidate:
    """A Nominatim result (format=json, addressdetails=1) as a candidate; ValueError if it has no position."""
    address: Mapping[str, str] = raw.get("address") or {}
    admin1_key = next((key for key in _ADMIN1_KEYS if address.get(key)), None)
    admin2 = next((address[key] for key in _ADMIN2_KEYS if key != admin1_key and address.get(key)), "")
    name = raw.get("name") or next((address[key] for key in _PLACE_KEYS if address.get(key)), "")
    try:
        latitude, longitude = float(raw["lat"]), float(raw["lon"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"a Nominatim result without a position: {raw.get('display_name')!r}") from error
    return PlaceCandidate(
        name=str(name or str(raw.get("display_name", "")).split(",")[0]).strip(),
        admin1=address[admin1_key] if admin1_key else "",
        admin2=admin2,
        country=str(address.get("country_code", "")).upper(),
        latitude=latitude,
        longitude=longitude,
        location_precision=precision_from_raw(raw),
        source=SOURCE,
    )


def candidate_from_location(location: Location) -> PlaceCandidate:
    return candidate_from_raw(location.raw)


class _LruCache:
    """A small thread-safe least-recently-used cache: the same look-up need not ask the server again."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class NominatimGeocoder:
    """Online geocoder over a Nominatim server; failures of the service raise GeocoderError.

    search() gives candidates in Nominatim's order (best first); a blank query gives [] without a request.
    The one-a-second limit holds across the threads of a process, not across processes: run one worker,
    or your own Nominatim, if several processes geocode at once.
    """

    attribution = ATTRIBUTION

    def __init__(
        self,
        user_agent: str,
        domain: str = DEFAULT_DOMAIN,
        *,
        timeout: float = 10.0,
        cache_size: int = 512,
        language: str | None = None,
    ) -> None:
        if not user_agent or not user_agent.strip():
            raise ValueError(
                "Nominatim needs a user agent that names this app (its usage policy asks for one)"
            )
        scheme, _, host = domain.rpartition("://")  # "http://localhost:8080" for a server of one's own
        try:
            self._nominatim = Nominatim(
                user_agent=user_agent.strip(), domain=host, scheme=scheme or "https", timeout=timeout
            )
        except geopy_exc.ConfigurationError as error:  # geopy refuses its own sample user agents
            raise ValueError(str(error)) from error
        self._language = language or False
        # One limiter for search and reverse together: the server counts requests, not kinds.
        self._rate_limited = RateLimiter(
            lambda method, *args, **kwargs: method(*args, **kwargs),
            min_delay_seconds=1.0,
            max_retries=0,  # an editor waiting on a form is better told at once than after retries
            swallow_exceptions=False,
        )
        self._cache = _LruCache(cache_size)

    def search(self, query: str, *, country: str | None = None, limit: int = 10) -> list[PlaceCandidate]:
        check_limit(limit)
        code = normalise_country(country)
        text = " ".join(query.split())
        if not text:
            return []
        key = ("search", text.casefold(), code, limit)
        found: tuple[PlaceCandidate, ...] | None = self._cache.get(key)
        if found is None:
            locations = self._ask(
                self._nominatim.geocode,
                text,
                exactly_one=False,
                limit=min(limit, _MOST_RESULTS),
                addressdetails=True,
                country_codes=code.lower() if code else None,
                language=self._language,
            )
            found = tuple(_candidates(locations or []))
            self._cache.put(key, found)
        return list(found[:limit])

    def reverse(self, latitude: float, longitude: float) -> PlaceCandidate | None:
        """The town (zoom 10) Nominatim puts the point in, with its admin regions; None if it knows none."""
        check_coordinates(latitude, longitude)
        key = ("reverse", round(latitude, 6), round(longitude, 6))
        found: tuple[PlaceCandidate, ...] | None = self._cache.get(key)
        if found is None:
            location = self._ask(
                self._nominatim.reverse,
                (latitude, longitude),
                exactly_one=True,
                addressdetails=True,
                zoom=_REVERSE_ZOOM,
                language=self._language,
            )
            found = tuple(_candidates([location] if location else []))
            self._cache.put(key, found)
        return found[0] if found else None

    def _ask(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return self._rate_limited(method, *args, **kwargs)
        except geopy_exc.GeocoderTimedOut as error:
            raise GeocoderError("The geocoding service did not answer in time; try again.") from error
        except geopy_exc.GeocoderRateLimited as error:
            raise GeocoderError("The geocoding service is busy; wait a minute and try again.") from error
        except (geopy_exc.GeocoderAuthenticationFailure, geopy_exc.GeocoderInsufficientPrivileges) as error:
            raise GeocoderError(
                "The geocoding service refused the request; an administrator should check the user agent."
            ) from error
        except geopy_exc.GeocoderUnavailable as error:
            raise GeocoderError("The geocoding service cannot be reached; try again later.") from error
        except geopy_exc.GeopyError as error:
            raise GeocoderError(f"The geocoding service failed: {error}") from error


def _candidates(locations: list[Location]) -> list[PlaceCandidate]:
    candidates = []
    for location in locations:
        try:
            candidates.append(candidate_from_location(location))
        except ValueError:  # a result without a position or with a malformed country: nothing to offer
            continue
    return candidates

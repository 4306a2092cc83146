"""Geocoding: place names to candidate places, and points to places, behind one interface.

The default is the offline gazetteer (no network); Nominatim is chosen with GEOCODER = "nominatim".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app

from incidents.geocoding.base import Geocoder, GeocoderError, PlaceCandidate
from incidents.geocoding.gazetteer import GazetteerGeocoder
from incidents.geocoding.nominatim import DEFAULT_DOMAIN, NominatimGeocoder

__all__ = [
    "GazetteerGeocoder",
    "Geocoder",
    "GeocoderError",
    "NominatimGeocoder",
    "PlaceCandidate",
    "current_geocoder",
    "make_geocoder",
]


def make_geocoder(config: Mapping[str, Any], *, cache_folder: Path | None = None) -> Geocoder:
    """The geocoder config["GEOCODER"] names: "gazetteer" (the default) or "nominatim".

    Nominatim needs GEOCODER_USER_AGENT and takes GEOCODER_NOMINATIM_DOMAIN. ValueError for anything else.
    The gazetteer keeps its index in cache_folder (the app's instance folder) for the next process, if given.
    """
    kind = str(config.get("GEOCODER") or "gazetteer").strip().lower()
    if kind == "gazetteer":
        return GazetteerGeocoder(cache_folder=cache_folder)
    if kind == "nominatim":
        user_agent = str(config.get("GEOCODER_USER_AGENT") or "").strip()
        if not user_agent:
            raise ValueError(
                "GEOCODER = 'nominatim' needs GEOCODER_USER_AGENT: a name for this app with a contact, "
                "such as 'incidents-db/1.0 (admin@example.org)', as the Nominatim usage policy asks"
            )
        domain = str(config.get("GEOCODER_NOMINATIM_DOMAIN") or DEFAULT_DOMAIN).strip()
        return NominatimGeocoder(user_agent, domain)
    raise ValueError(f"GEOCODER must be 'gazetteer' or 'nominatim', not {config.get('GEOCODER')!r}")


def current_geocoder() -> Geocoder:
    """One geocoder per app, built from its configuration."""
    if "incidents.geocoder" not in current_app.extensions:
        # The gazetteer keeps its built index in the instance folder: the next process reads it in 0.1 s.
        current_app.extensions["incidents.geocoder"] = make_geocoder(
            current_app.config, cache_folder=Path(current_app.instance_path)
        )
    found: Geocoder = current_app.extensions["incidents.geocoder"]
    return found

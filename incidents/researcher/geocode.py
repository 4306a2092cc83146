"""The app's geocoder, and a JSON endpoint the entry form's script calls for place candidates."""

from __future__ import annotations

from pathlib import Path

from flask import current_app, jsonify, request
from werkzeug.wrappers import Response

from incidents.geocoding import Geocoder, GeocoderError, make_geocoder
from incidents.security import require_editor


def geocoder() -> Geocoder:
    """One geocoder per app, built from its configuration."""
    if "incidents.geocoder" not in current_app.extensions:
        # The gazetteer keeps its built index in the instance folder: the next process reads it in 0.1 s.
        current_app.extensions["incidents.geocoder"] = make_geocoder(
            current_app.config, cache_folder=Path(current_app.instance_path)
        )
    found: Geocoder = current_app.extensions["incidents.geocoder"]
    return found


def geocode_json() -> tuple[Response, int] | Response:
    require_editor()
    query = request.args.get("q", "").strip()
    country = request.args.get("country", "").strip().upper() or None
    if not query:
        return jsonify(error="q: type a place name to look up"), 400
    if len(query) > 200:
        return jsonify(error="q: at most 200 characters"), 400
    try:
        candidates = geocoder().search(query, country=country, limit=15)
    except GeocoderError as error:
        return jsonify(error=str(error)), 503
    except ValueError:
        return jsonify(error=f"country: {country!r} is not a country code"), 400
    return jsonify(candidates=[c.to_dict() for c in candidates], attribution=geocoder().attribution)

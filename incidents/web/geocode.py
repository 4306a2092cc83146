"""A JSON endpoint the entry form's script calls for place candidates."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.wrappers import Response

from incidents.geocoding import GeocoderError, current_geocoder
from incidents.web.security import require_editor


def geocode_json() -> tuple[Response, int] | Response:
    require_editor()
    query = request.args.get("q", "").strip()
    country = request.args.get("country", "").strip().upper() or None
    if not query:
        return jsonify(error="q: type a place name to look up"), 400
    if len(query) > 200:
        return jsonify(error="q: at most 200 characters"), 400
    try:
        candidates = current_geocoder().search(query, country=country, limit=15)
    except GeocoderError as error:
        return jsonify(error=str(error)), 503
    except ValueError:
        return jsonify(error=f"country: {country!r} is not a country code"), 400
    return jsonify(candidates=[c.to_dict() for c in candidates], attribution=current_geocoder().attribution)

"""The map page, its script and its data; all public (published incidents only unless staff)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app, render_template, request
from marshmallow import ValidationError

from incidents.domain.casualties import casualty_ranges
from incidents.domain.geometry import WORLD
from incidents.queries.map_view import area_view, located_extent, selection_summary
from incidents.queries.selection import latest
from incidents.schemas.filters import filters_from_args, map_request_from_args
from incidents.vocabulary import LOCATION_UNCERTAINTY_M, LocationPrecision
from incidents.web import map_geojson
from incidents.web.filters import filter_errors, filter_form_context
from incidents.web.rate_limits import map_data_limit, text_search_limit
from incidents.web.security import is_staff

if TYPE_CHECKING:
    from incidents.web.map_script import IncidentMap

blueprint = Blueprint("maps", __name__)

RECENT = 10  # incidents listed under the map, newest first


def incident_map() -> IncidentMap:
    # folium, branca and numpy cost ~25 MB: loaded when a map is first drawn, not by every command.
    from incidents.web.map_script import build_map

    return build_map(
        current_app.config.get("TILE_URL") or "", current_app.config.get("TILE_ATTRIBUTION") or ""
    )


@text_search_limit
def map_page() -> str | tuple[str, int]:
    """The map at /: the filters, the count and totals, the map, the time slider, the latest incidents."""
    context = filter_form_context()
    context["incident_map"] = incident_map()
    context["precision_radii"] = {p.value: LOCATION_UNCERTAINTY_M[p] for p in LocationPrecision}
    try:
        filters = filters_from_args(request.args)
    except ValidationError as error:
        return render_template("map/index.html", errors=filter_errors(error), summary=None, **context), 400
    staff = is_staff()
    summary = selection_summary(filters, staff=staff)
    recent = latest(filters, staff=staff, limit=RECENT)
    return render_template(
        "map/index.html",
        errors={},
        filters=filters,
        summary=summary,
        extent=located_extent(filters, staff=staff) if summary.located else None,
        recent=recent,
        ranges={incident.id: casualty_ranges(incident) for incident in recent},
        **context,
    )


@blueprint.get("/map.js")
def script() -> Response:
    """The map script folium generated, served from the app so that no inline script is needed."""
    response = Response(incident_map().script, mimetype="application/javascript")
    response.cache_control.max_age = 300
    return response


@blueprint.get("/map/data.geojson")
@map_data_limit
def data() -> Response | tuple[Response, int]:
    """Incidents in bbox (w,s,e,n) matching the filters; clusters with counts where there are many."""
    try:
        wanted = map_request_from_args(request.args)
    except ValidationError as error:
        body = {"message": "The map request could not be read.", "errors": filter_errors(error)}
        return Response(json.dumps(body), mimetype="application/json"), 400
    bbox = wanted.pop("bbox") or WORLD
    view = area_view(wanted, bbox, wanted["zoom"], staff=is_staff())
    return Response(json.dumps(map_geojson.feature_collection(view)), mimetype="application/geo+json")

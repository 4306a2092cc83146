"""The map page, its script and its data; all public (published incidents only unless staff)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user
from marshmallow import ValidationError

from incidents.domain.casualties import casualty_ranges
from incidents.domain.map_view import area_view, located_extent, selection_summary
from incidents.domain.queries import incident_selection
from incidents.extensions import db
from incidents.maps import geojson
from incidents.maps.style import TYPE_PRECEDENCE, type_colour
from incidents.models import Incident, IncidentType
from incidents.schemas.errors import by_top_field
from incidents.schemas.filters import WORLD, filter_query_args, filters_from_args, map_request_from_args
from incidents.vocabulary import LOCATION_UNCERTAINTY_M, LocationPrecision

if TYPE_CHECKING:
    from incidents.maps.folium_map import IncidentMap

blueprint = Blueprint("maps", __name__)

RECENT = 10  # incidents listed under the map, newest first


def is_staff() -> bool:
    return bool(current_user.is_authenticated and current_user.can_edit)


def incident_map() -> IncidentMap:
    # folium, branca and numpy cost ~25 MB: loaded when a map is first drawn, not by every command.
    from incidents.maps.folium_map import build_map

    return build_map(
        current_app.config.get("TILE_URL") or "", current_app.config.get("TILE_ATTRIBUTION") or ""
    )


def filter_errors(error: ValidationError) -> dict[str, str]:
    """One message per parameter, naming it."""
    return by_top_field(error.messages)


def filter_form_context() -> dict[str, Any]:
    """What the filter form needs: the types, the admin-1 regions in use, and the legend."""
    types = list(db.session.scalars(sa.select(IncidentType).order_by(IncidentType.label)))
    order = {slug: i for i, slug in enumerate(TYPE_PRECEDENCE)}
    legend = sorted(types, key=lambda t: (order.get(t.slug, len(order)), t.label))
    admin1 = db.session.scalars(
        sa.select(Incident.admin1)
        .where(Incident.admin1 != "")
        .distinct()
        .order_by(Incident.admin1)
        .limit(500)
    )
    return {
        "incident_types": types,
        "legend": [(t.slug, t.label, type_colour(t.slug)) for t in legend],
        "admin1_choices": list(admin1),
        "filter_query": urlencode(filter_query_args(request.args)),
        "staff": is_staff(),
    }


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
    summary = selection_summary(filters, include_unpublished=staff)
    recent = list(db.session.scalars(incident_selection(filters, include_unpublished=staff).limit(RECENT)))
    return render_template(
        "map/index.html",
        errors={},
        filters=filters,
        summary=summary,
        extent=located_extent(filters, include_unpublished=staff) if summary.located else None,
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
def data() -> Response | tuple[Response, int]:
    """Incidents in bbox (w,s,e,n) matching the filters; clusters with counts where there are many."""
    try:
        wanted = map_request_from_args(request.args)
    except ValidationError as error:
        body = {"message": "The map request could not be read.", "errors": filter_errors(error)}
        return Response(json.dumps(body), mimetype="application/json"), 400
    bbox = wanted.pop("bbox") or WORLD
    view = area_view(wanted, bbox, wanted["zoom"], include_unpublished=is_staff())
    return Response(json.dumps(geojson.feature_collection(view)), mimetype="application/geo+json")

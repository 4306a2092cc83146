"""/export.json, /export.geojson and /export.csv: the filtered view, as a download, streamed."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, stream_with_context
from marshmallow import ValidationError

from incidents import query_budget
from incidents.exports.build import make_export
from incidents.exports.formats import MEDIA_TYPES, SCHEMA_VERSIONS, WRITERS
from incidents.exports.schema import schema_path
from incidents.schemas.filters import filters_from_args
from incidents.web.api.problems import validation_problem
from incidents.web.rate_limits import export_limit
from incidents.web.security import is_staff

blueprint = Blueprint("exports", __name__)


@blueprint.get("/export.<any(json, geojson, csv):fmt>")
@export_limit
def export(fmt: str) -> Response:
    """The incidents the list, map or timeline shows with the same query string, in one format."""
    try:
        filters = filters_from_args(request.args)
    except ValidationError as error:
        return validation_problem(error, title="The filters could not be read.", status=400)
    staff = is_staff()
    base_url = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    hxl = request.args.get("hxl", "") in ("1", "true", "yes")
    export = make_export(filters, staff=staff, fmt=fmt, base_url=base_url, hxl=hxl)
    # The first batch within the request's query budget (web.budget): a selection too costly to read is
    # answered 503 before the download starts. The rest streams without one (Flask ends the request, and
    # its budget, before the stream, which reads with a session of its own; stopped here all the same): a
    # 200 already sent cannot become a 503, a file cut short would look whole, and an export of every
    # incident takes its time legitimately. EXPORT_RATE_LIMIT bounds how many a client starts.
    export.stored.begin()
    query_budget.stop()
    stamp = export.exported_at.strftime("%Y%m%dT%H%M%SZ")
    filename = f"incidents-{export.audience}-{stamp}.{fmt}"
    response = Response(stream_with_context(WRITERS[fmt](export)), mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Export-Audience"] = export.audience
    return response


@blueprint.get("/export/schema/<any(" + ", ".join(f'"{v}"' for v in SCHEMA_VERSIONS) + "):version>.json")
def export_schema(version: str) -> Response:
    """The JSON Schema (Draft 2020-12) of a version of the JSON export format; exports name theirs
    (currently FORMAT_VERSION), and older files keep pointing at the version they were written in."""
    response = Response(schema_path(version).read_bytes(), mimetype="application/schema+json")
    response.cache_control.max_age = 3600
    return response

"""Admin pages: extending the incident type vocabulary."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from incidents.extensions import db
from incidents.models import IncidentType, incident_type_links
from incidents.schemas.errors import by_top_field
from incidents.security import require_admin
from incidents.services.incident_types import add_incident_type

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.route("/incident-types", methods=["GET", "POST"])
def incident_types() -> Response | str | tuple[str, int]:
    require_admin()
    typed = {"label": "", "slug": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed = {name: request.form.get(name, "") for name in typed}
        try:
            added = add_incident_type(typed)
            db.session.commit()
        except ValidationError as error:
            db.session.rollback()
            errors = by_top_field(error.messages)
        else:
            flash(f"Added the incident type “{added.label}”.", "info")
            return redirect(url_for("admin.incident_types"))
    counts = sa.select(incident_type_links.c.incident_type_id, sa.func.count()).group_by(
        incident_type_links.c.incident_type_id
    )
    usage = {type_id: count for type_id, count in db.session.execute(counts)}
    types = db.session.scalars(sa.select(IncidentType).order_by(IncidentType.label)).all()
    page = render_template("admin/incident_types.html", types=types, usage=usage, typed=typed, errors=errors)
    return (page, 422) if errors else page

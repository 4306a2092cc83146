"""Admin pages: extending the incident type vocabulary."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from incidents.extensions import db
from incidents.queries import choices
from incidents.schemas.errors import by_top_field
from incidents.services.incident_types import add_incident_type
from incidents.web.security import require_admin

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
    page = render_template(
        "admin/incident_types.html",
        types=choices.incident_types(),
        usage=choices.incident_type_usage(),
        typed=typed,
        errors=errors,
    )
    return (page, 422) if errors else page

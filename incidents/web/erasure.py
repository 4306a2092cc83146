"""An admin erases an incident for good from its page: a confirmation page that asks why (POST, CSRF)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from incidents.extensions import db
from incidents.schemas.errors import by_top_field
from incidents.services import erasure
from incidents.services.erasure import ErasureRefused
from incidents.services.transactions import commit_unit
from incidents.web.incident_refs import IncidentRef, incident_or_404
from incidents.web.security import require_admin, web_actor

blueprint = Blueprint("erasure", __name__)


@blueprint.route("/incidents/<incident:ref>/erase", methods=["GET", "POST"])
def erase_incident(ref: IncidentRef) -> Response | str | tuple[str, int]:
    """What erasing the incident removes, and the form that does it: a reason, and a box to tick."""
    require_admin()
    incident = incident_or_404(ref)
    typed = {"reason": "", "with_sources": False}
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed = {
            "reason": request.form.get("reason", ""),
            "with_sources": request.form.get("with_sources") == "yes",
        }
        if request.form.get("understood") != "yes":
            errors["understood"] = "Tick this box to erase: the incident cannot be brought back."
        else:
            public_id, actor = incident.public_id, web_actor()
            try:
                done = commit_unit(
                    lambda: erasure.erase_incident(
                        incident_or_404(ref),
                        actor,
                        reason=str(typed["reason"]),
                        with_sources=bool(typed["with_sources"]),
                    )
                )
            except ValidationError as error:
                db.session.rollback()
                errors = by_top_field(error.messages)
            except ErasureRefused as refused:
                db.session.rollback()
                errors = {"reason": str(refused)}
            else:
                purged = erasure.purge()
                flash(
                    f"Incident {public_id} was erased for good (audit entry {done.seq}). "
                    + ("" if purged.done else purged.message),
                    "info" if purged.done else "error",
                )
                return redirect(url_for("incidents.incident_list"))
        incident = incident_or_404(ref)
    page = render_template(
        "incidents/erase.html",
        incident=incident,
        only_cited_here=erasure.sources_only_cited_by(incident),
        typed=typed,
        errors=errors,
    )
    return (page, 422) if errors else page

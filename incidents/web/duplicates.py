"""Editors resolve possible duplicates from the incident page: confirm them distinct, or merge them."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from incidents.domain.duplicates import open_flags
from incidents.extensions import db
from incidents.models import DuplicateFlag
from incidents.services.duplicates import NeedsConfirmation, ResolutionError, confirm_distinct, merge
from incidents.services.refusals import record_refusal
from incidents.services.workflow import WorkflowRefused
from incidents.web.incident_refs import IncidentRef, incident_or_404
from incidents.web.security import require_editor, web_actor

blueprint = Blueprint("duplicates", __name__, url_prefix="/incidents")


@blueprint.post("/<incident:ref>/duplicates/<id:flag_id>/distinct")
def distinct(ref: IncidentRef, flag_id: int) -> Response:
    require_editor()
    incident = incident_or_404(ref)
    flag = _flag(incident.id, flag_id)
    try:
        confirm_distinct(flag, web_actor())
        db.session.commit()
    except ResolutionError as error:
        db.session.rollback()
        flash(str(error), "error")
    else:
        flash(
            f"Incidents {flag.candidate.public_id} and {flag.incident.public_id} are recorded as distinct.",
            "info",
        )
    return redirect(url_for("incidents.incident_detail", ref=incident.public_id))


@blueprint.post("/<incident:ref>/duplicates/<id:flag_id>/merge")
def merge_into(ref: IncidentRef, flag_id: int) -> Response:
    """Keep this incident; copy the other's citations onto it and retract the other."""
    require_editor()
    keep = incident_or_404(ref)
    incident_id = keep.id
    flag = _flag(incident_id, flag_id)
    actor = web_actor()
    try:
        retracted = merge(flag, keep, actor, confirmed=request.form.get("confirmed") == "yes")
        db.session.commit()
    except NeedsConfirmation as asked:
        db.session.rollback()
        flash(str(asked), "warning")
        # The page asks again, beside the flag, with a button that confirms.
        return redirect(
            url_for("incidents.incident_detail", ref=keep.public_id, confirm_merge=flag_id)
            + "#duplicates-heading"
        )
    except ResolutionError as error:
        db.session.rollback()
        flash(str(error), "error")
    except WorkflowRefused as refused:
        db.session.rollback()
        record_refusal(actor, "incident.merge", "incident", incident_id, str(refused))
        db.session.commit()
        flash(str(refused), "error")
    else:
        flash(f"Incident {retracted.public_id} was merged into this one and retracted.", "info")
    return redirect(url_for("incidents.incident_detail", ref=keep.public_id))


def _flag(incident_id: int, flag_id: int) -> DuplicateFlag:
    flag = db.session.get(DuplicateFlag, flag_id)
    if flag is None or incident_id not in (flag.incident_id, flag.candidate_id):
        abort(404)
    return flag


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
    # The incident page asks for the open flags of the incident it shows (staff only).
    app.add_template_global(open_flags, "open_duplicate_flags")

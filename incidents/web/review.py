"""The publication workflow's pages: the review queue, an incident's moves, and its history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from incidents.extensions import db
from incidents.queries.history import incident_history, last_moves
from incidents.queries.selection import in_review
from incidents.schemas.errors import by_top_field
from incidents.schemas.workflow import TransitionSchema
from incidents.services.conflicts import EditConflict
from incidents.services.refusals import record_refusal
from incidents.services.workflow import WorkflowRefused, transition
from incidents.web.history_view import described
from incidents.web.incident_refs import IncidentRef, incident_or_404
from incidents.web.security import require_editor, web_actor

blueprint = Blueprint("review", __name__)


@blueprint.get("/review")
def queue() -> str:
    """The incidents waiting for a reviewer, oldest submission first."""
    require_editor()
    waiting = in_review()
    moves = last_moves([incident.id for incident in waiting])
    waiting.sort(key=lambda incident: moves[incident.id].seq if incident.id in moves else 0)
    return render_template("review/queue.html", waiting=waiting, moves=moves)


@blueprint.post("/incidents/<incident:ref>/transition")
def move(ref: IncidentRef) -> Response:
    """One of the workflow's buttons on an incident's page: submit, send back, publish, retract."""
    require_editor()
    incident = incident_or_404(ref)
    incident_id = incident.id
    actor = web_actor()
    asked: dict[str, Any] = {
        key: request.form[key] for key in ("to", "reason", "version") if request.form.get(key, "").strip()
    }
    asked["override"] = request.form.get("override") == "yes"
    target = url_for("incidents.incident_detail", ref=incident.public_id)
    try:
        loaded = TransitionSchema().load(asked)
        moved = transition(
            incident,
            loaded["to"],
            actor,
            reason=loaded["reason"],
            version=loaded["version"],
            override=loaded["override"],
        )
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        problems = " ".join(f"{name}: {text}" for name, text in by_top_field(error.messages).items())
        flash(f"Nothing was changed: {problems}", "error")
    except EditConflict:
        db.session.rollback()
        flash("Nothing was changed: someone saved this incident since you opened it. Read it again.", "error")
    except WorkflowRefused as refused:
        db.session.rollback()
        record_refusal(actor, f"incident.{asked.get('to', 'move')}", "incident", incident_id, str(refused))
        db.session.commit()
        flash(f"Nothing was changed: {refused}", "error")
    else:
        flash(f"The incident is now {moved.status.label}.", "info")
    return redirect(target)


@blueprint.get("/incidents/<incident:ref>/history")
def history(ref: IncidentRef) -> str:
    """Every version of the incident: who, when, through what, why, and what changed."""
    require_editor()
    incident = incident_or_404(ref)
    entries = [(entry, described(entry.changes)) for entry in reversed(incident_history(incident.id))]
    return render_template("review/history.html", incident=incident, entries=entries)

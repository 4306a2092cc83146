"""Browsing incidents (public and staff) and entering them (editors)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from incidents.domain.casualties import casualty_ranges
from incidents.exports import public_page
from incidents.extensions import db
from incidents.geocoding import GeocoderError, current_geocoder
from incidents.models import Incident, IncidentType
from incidents.queries import choices
from incidents.queries.history import corrections, last_moves
from incidents.queries.selection import incident_selection
from incidents.queries.shown import location_of, source_of
from incidents.schemas.filters import filter_query_args, filters_from_args
from incidents.schemas.incident import incident_input
from incidents.services.incidents import (
    EditConflict,
    Saved,
    create_incident,
    current_version,
    update_incident,
)
from incidents.services.refusals import record_refusal
from incidents.services.transactions import DatabaseBusy, commit_unit
from incidents.services.workflow import WorkflowRefused, moves_from
from incidents.vocabulary import PublicationStatus
from incidents.web import conditional, incident_form
from incidents.web.busy import FORM_MESSAGE, retry_after_header
from incidents.web.geocode import geocode_json
from incidents.web.incident_refs import IncidentRef, incident_or_404
from incidents.web.rate_limits import text_search_limit
from incidents.web.security import is_staff, require_editor, web_actor

blueprint = Blueprint("incidents", __name__, url_prefix="/incidents")

# What the form's views answer: a redirect, the page, the page with its status (and headers: a 503's
# Retry-After).
FormAnswer = Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]


@blueprint.get("/")
@text_search_limit
def incident_list() -> str | tuple[str, int]:
    try:
        filters = filters_from_args(request.args)
    except ValidationError as error:
        return (
            render_template(
                "incidents/list.html",
                incidents=[],
                total=0,
                filters={},
                filter_errors=incident_form.flat_errors(error.messages_dict, {"estimates": {}}),
                incident_types=_incident_types(),
                page=1,
                pages=1,
                filter_query=urlencode(filter_query_args(request.args)),
            ),
            400,
        )
    query = incident_selection(filters, staff=is_staff())
    per_page = current_app.config["INCIDENTS_PER_PAGE"]
    page = db.paginate(query, page=filters["page"], per_page=per_page, error_out=False, count=True)
    return render_template(
        "incidents/list.html",
        incidents=page.items,
        total=page.total,
        filters=filters,
        filter_errors={},
        incident_types=_incident_types(),
        page=page.page,
        pages=page.pages or 1,
        filter_query=urlencode(filter_query_args(request.args)),
        ranges={incident.id: casualty_ranges(incident) for incident in page.items},
    )


@blueprint.get("/<incident:ref>")
def incident_detail(ref: IncidentRef) -> Response | str:
    staff = is_staff()
    if isinstance(ref, str) and not staff:
        published = public_page.published(ref)
        if published is None:
            abort(404)
        if published.record is not None:
            return _public_detail(published)
    incident = incident_or_404(ref)
    if isinstance(ref, int):
        # A numbered URL, as before public ids (web.incident_refs): the page is at its public id.
        target = url_for("incidents.incident_detail", ref=incident.public_id)
        if request.query_string:
            target += "?" + request.query_string.decode("ascii", "replace")
        return redirect(target, 301)
    return render_template(
        "incidents/detail.html",
        incident=incident,
        here=location_of(incident, staff=staff),
        ranges=casualty_ranges(incident),
        staff=staff,
        moves=moves_from(incident, web_actor()) if staff else [],
        last_move=last_moves([incident.id]).get(incident.id) if staff else None,
        corrections=corrections(incident.id) if incident.status == PublicationStatus.PUBLISHED else [],
    )


def _public_source(source: Any) -> Any:
    return source_of(source, staff=False)


def _public_detail(published: public_page.PublishedIncident) -> Response:
    """The page the public sees, from the incident's stored record; for an anonymous visitor with nothing
    of their own on it, with an ETag, and a 304 when they hold the page already (web.conditional)."""
    today = dt.date.today()  # the citation line's "accessed" date: the page and its ETag say the same day
    validators = conditional.page_validators(published, today) if conditional.shared_answer() else None
    if validators is not None and (unchanged := conditional.not_modified(validators)) is not None:
        return unchanged
    incident = public_page.public_incident(published)
    response = make_response(
        render_template(
            "incidents/detail.html",
            incident=incident,
            here=incident.location,
            ranges=casualty_ranges(incident),
            staff=False,
            moves=[],
            last_move=None,
            corrections=corrections(published.id) if published.may_be_corrected else [],
            today=today,
            # The public's, without asking who is logged in for each source shown (web.init_app's global).
            shown_source=_public_source,
        )
    )
    if validators is None:
        # A message for this visitor alone, or their account named in the header: no cache keeps it.
        response.headers["Cache-Control"] = "no-store"
        return response
    return conditional.with_validators(response, validators)


@blueprint.route("/new", methods=["GET", "POST"])
def incident_new() -> FormAnswer:
    require_editor()
    if request.method == "GET":
        typed = incident_form.typed_from_input({"status": PublicationStatus.DRAFT.value})
        typed["citations"] = [incident_form.blank_citation()]
        return _render_form(typed, {}, incident=None)
    return _handle_post(incident=None)


@blueprint.route("/<incident:ref>/edit", methods=["GET", "POST"])
def incident_edit(ref: IncidentRef) -> FormAnswer:
    require_editor()
    incident = incident_or_404(ref)
    if request.method == "GET":
        return _render_form(incident_form.typed_from_input(incident_input(incident)), {}, incident=incident)
    return _handle_post(incident=incident)


def _handle_post(incident: Incident | None) -> FormAnswer:
    """The form's buttons: add a source block or a claim row, look a place up, or save."""
    action = request.form.get("action", "save")
    target = action.removeprefix("add_claim-") if action.startswith("add_claim-") else ""
    typed = incident_form.typed_from_form(
        request.form, keep=int(target) if target.isascii() and target.isdigit() else None
    )
    if action == "add_citation":
        typed["citations"].append(incident_form.blank_citation())
        return _render_form(typed, {}, incident=incident, focus=f"citation-{len(typed['citations']) - 1}")
    if action.startswith("add_claim-"):
        return _add_claim_row(typed, target, incident)
    if action == "geocode" or action.startswith("place-"):
        return _geocode_step(typed, action, incident)
    return _save(typed, incident)


def _add_claim_row(typed: dict[str, Any], target: str, incident: Incident | None) -> str:
    """One more empty claim row in that block (beside the one every block gets), kept where it was even when
    nothing is typed in it yet. A block that is not in the form (a forged number) comes last."""
    block = next((c for c in typed["citations"] if str(c.get("form_index")) == target), None)
    if block is None:
        block = incident_form.blank_citation()
        typed["citations"].append(block)
    block["claims"].append(dict.fromkeys(incident_form.CLAIM_FIELDS, ""))
    return _render_form(typed, {}, incident=incident, focus=f"citation-{typed['citations'].index(block)}")


def _save(typed: dict[str, Any], incident: Incident | None) -> FormAnswer:
    raw = incident_form.schema_input(typed)
    actor = web_actor()

    def save() -> Saved:
        if incident is None:
            return create_incident(raw, actor)
        return update_incident(incident, raw, actor, reason=typed["reason"])

    try:
        saved = commit_unit(save)
    except DatabaseBusy as busy:
        # Nothing was saved (commit_unit rolled it back): the form comes back as typed, to send again.
        page = _render_form(typed, {"form": FORM_MESSAGE}, incident=incident)
        return page, 503, retry_after_header(busy.retry_after)
    except WorkflowRefused as refused:
        db.session.rollback()
        operation = "incident.create" if incident is None else "incident.update"
        record_refusal(actor, operation, "incident", incident.id if incident else None, str(refused))
        db.session.commit()
        return _render_form(typed, {"form": str(refused)}, incident=incident), refused.status
    except ValidationError as error:
        db.session.rollback()
        return _render_form(
            typed, incident_form.flat_errors(error.messages_dict, typed), incident=incident
        ), 422
    except EditConflict as conflict:
        db.session.rollback()
        version = current_version(conflict.incident_id)
        message = (
            f"Someone else saved this incident (now version {version}) after you opened it. "
            "Your text is kept below; compare it with the saved record, then save again."
        )
        typed["version"] = str(version)
        return _render_form(typed, {"form": message}, incident=incident), 409
    flash(f"Saved “{saved.incident.title}”.", "info")
    for flag in saved.flagged:
        other = flag.other(saved.incident.id)
        flash(
            f"Possible duplicate of incident {other.public_id} “{other.title}”: see below to confirm or "
            "merge.",
            "warning",
        )
    return redirect(url_for("incidents.incident_detail", ref=saved.incident.public_id))


def _geocode_step(typed: dict[str, Any], action: str, incident: Incident | None) -> str | tuple[str, int]:
    """Without JavaScript: look the place up, offer candidates, and fill the location from the chosen one."""
    query = typed["place_name"].strip()
    if not query:
        return _render_form(typed, {"place_name": "Type a place name to look up."}, incident=incident), 422
    try:
        candidates = current_geocoder().search(query, country=typed["country"].strip() or None)
    except GeocoderError as error:
        return _render_form(typed, {"place_name": str(error)}, incident=incident), 422
    except ValueError:
        message = f"{typed['country']!r} is not a country code; correct it or clear it to search everywhere."
        return _render_form(typed, {"country": message}, incident=incident), 422
    if action.startswith("place-"):
        index = action.removeprefix("place-")
        if index.isdigit() and int(index) < len(candidates):
            chosen = candidates[int(index)]
            typed.update(
                place_name=chosen.name,
                admin1=chosen.admin1,
                admin2=chosen.admin2,
                country=chosen.country,
                latitude=f"{chosen.latitude:.5f}",
                longitude=f"{chosen.longitude:.5f}",
                location_precision=chosen.location_precision.value,
            )
            return _render_form(typed, {}, incident=incident, focus="location")
    if not candidates:
        return _render_form(typed, {"place_name": f"No place called “{query}” was found."}, incident=incident)
    return _render_form(typed, {}, incident=incident, candidates=candidates, focus="location")


def _render_form(
    typed: dict[str, Any],
    errors: dict[str, str],
    *,
    incident: Incident | None,
    candidates: list[Any] | None = None,
    focus: str | None = None,
) -> str:
    for citation in typed["citations"]:
        citation["claims"].append(dict.fromkeys(incident_form.CLAIM_FIELDS, ""))
    return render_template(
        "incidents/form.html",
        typed=typed,
        errors=errors,
        incident=incident,
        incident_types=_incident_types(),
        source_choices=choices.source_choices(),
        has_errors=lambda prefix: any(key.startswith(prefix) for key in errors),
        candidates=candidates or [],
        geocoder_attribution=current_geocoder().attribution if candidates else "",
        focus=focus,
    )


def _incident_types() -> list[IncidentType]:
    return choices.incident_types()


blueprint.add_url_rule("/geocode", "geocode", geocode_json)

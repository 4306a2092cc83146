"""The REST API under /api/v1/: incidents and sources, read by anyone, written with an editor's token."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.exceptions import HTTPException

from incidents.exports import api_pages, public_page
from incidents.exports.formats import FORMAT_VERSION
from incidents.extensions import db
from incidents.models import Incident
from incidents.query_budget import QueryBudgetExceeded
from incidents.schemas.fields import MAX_INT
from incidents.schemas.filters import filters_from_args
from incidents.schemas.workflow import RetractionSchema, TransitionSchema
from incidents.services.incidents import (
    EditConflict,
    Saved,
    create_incident,
    current_version,
    retract_incident,
    update_incident,
)
from incidents.services.refusals import record_refusal
from incidents.services.sources import create_source
from incidents.services.transactions import DatabaseBusy, commit_unit, is_busy, retry_after
from incidents.services.workflow import WorkflowRefused, transition
from incidents.web import conditional
from incidents.web.api.auth import api_actor, api_user
from incidents.web.api.openapi import openapi_spec
from incidents.web.api.problems import busy_problem, http_problem, problem, validation_problem
from incidents.web.budget import too_costly
from incidents.web.incident_refs import IncidentRef, find_incident
from incidents.web.rate_limits import api_list_limit

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
# Queries past the request's time budget: a 503 problem, not the 500 of server_error below.
blueprint.register_error_handler(QueryBudgetExceeded, too_costly)

MAX_LIMIT = 500


class PageSchema(Schema):
    """Cursor pagination: records after the cursor, at most limit of them."""

    cursor = fields.String(load_default=None, validate=validate.Length(max=100))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_LIMIT))


def _staff() -> bool:
    return api_user() is not None


def _json(value: Any, status: int = 200) -> Response:
    response = current_app.response_class(
        json.dumps(value, ensure_ascii=False), status=status, mimetype="application/json"
    )
    return response


def _page() -> tuple[str | None, int]:
    """(cursor, limit) from the query string; raises ValidationError for a bad limit."""
    raw = {key: request.args[key] for key in ("cursor", "limit") if request.args.get(key, "").strip()}
    page = PageSchema().load(raw)
    return page["cursor"], page["limit"]


def encode_cursor(after_id: int | None) -> str | None:
    if after_id is None:
        return None
    return base64.urlsafe_b64encode(f"after:{after_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The source id a sources page's cursor continues after (source ids are public: /sources/<id>)."""
    if cursor is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    kind, _, number = text.partition(":")
    if kind != "after" or not number.isdigit() or not 0 < int(number) <= MAX_INT:
        raise ValidationError({"cursor": ["Not a cursor this API gave out."]})
    return int(number)


def _permalink_prefix() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    return base.rstrip("/") + "/incidents/"


def _body() -> dict[str, Any] | Response:
    """The request's JSON object, or a problem saying why there is none."""
    if not request.is_json:
        return problem(415, "Unsupported Media Type", "Send the body as application/json.")
    try:
        body = json.loads(request.get_data(), parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:
        return problem(400, "Bad Request", f"The body is not valid JSON: {error}", kind="invalid-json")
    if not isinstance(body, dict):
        return problem(422, "The input is not valid.", "The body must be a JSON object.", kind="validation")
    if _has_nul(body):
        return problem(
            422, "The input is not valid.", "Text must not contain NUL characters.", kind="validation"
        )
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _args_have_nul() -> bool:
    return any("\x00" in value for values in request.args.listvalues() for value in values)


def _not_found(what: str) -> Response:
    return problem(404, "Not Found", f"There is no {what} with this id that you may see.", kind="not-found")


@blueprint.get("/incidents")
@api_list_limit
def incident_list() -> Response:
    """Incidents matching the filters, in id order, a page at a time."""
    if _args_have_nul():
        return problem(
            400, "The filters could not be read.", "NUL characters are not allowed.", kind="validation"
        )
    try:
        filters = filters_from_args(request.args)
        cursor, limit = _page()
        # An incidents page's cursor is the public id of the last incident it gave: a number would
        # tell how many incidents there are, published or not.
        after_id = api_pages.incident_position(cursor) if cursor is not None else 0
    except ValidationError as error:
        return validation_problem(error, title="The filters could not be read.", status=400)
    found, next_cursor = api_pages.incident_page(
        filters, staff=_staff(), after_id=after_id, limit=limit, permalink_prefix=_permalink_prefix()
    )
    return _json({"incidents": found, "next_cursor": next_cursor, "limit": limit})


@blueprint.post("/incidents")
def incident_create() -> Response:
    body = _body()
    if isinstance(body, Response):
        return body
    saved = _attempt("incident.create", None, lambda: create_incident(body, api_actor()))
    return saved if isinstance(saved, Response) else _saved_incident(saved, 201)


T = TypeVar("T")


def _attempt(operation: str, incident_id: int | None, change: Callable[[], T]) -> T | Response:
    """Make the change and commit it (run again while the database is busy: it must be safe to repeat); or
    roll it back and answer why not, as a problem (a refusal of the workflow is kept in the audit trail)."""
    try:
        done = commit_unit(change)
    except DatabaseBusy as busy:
        return busy_problem(busy.retry_after)
    except ValidationError as error:
        db.session.rollback()
        return validation_problem(error)
    except EditConflict:
        db.session.rollback()
        return _conflict(incident_id or 0)
    except WorkflowRefused as refused:
        return _refused(refused, operation, incident_id)
    return done


def _refused(refused: WorkflowRefused, operation: str, incident_id: int | None) -> Response:
    """The workflow's refusal as a problem; the attempt kept in the audit trail."""
    db.session.rollback()
    record_refusal(api_actor(), operation, "incident", incident_id, str(refused))
    db.session.commit()
    kind = "forbidden" if refused.status == 403 else "workflow"
    title = "Forbidden" if refused.status == 403 else "Not allowed in this state"
    return problem(refused.status, title, str(refused), kind=kind)


def _saved_incident(saved: Saved, status: int) -> Response:
    """The saved incident's staff record; the possible duplicates this save flagged, in a header as the
    form's page tells them (the record itself is the same whoever reads it)."""
    incident_id = saved.incident.id
    record = api_pages.incident_by_id(incident_id, staff=True, permalink_prefix=_permalink_prefix())
    response = _json(record, status)
    if status == 201:
        response.headers["Location"] = url_for("api.incident_get", ref=saved.incident.public_id)
    if saved.flagged:
        response.headers["X-Possible-Duplicates"] = ", ".join(
            flag.other(incident_id).public_id for flag in saved.flagged
        )
    return response


@blueprint.get("/incidents/<incident:ref>")
def incident_get(ref: IncidentRef) -> Response:
    if isinstance(ref, str) and not _staff():
        published = public_page.published(ref)
        if published is None:
            return _not_found("incident")
        if published.record is not None:
            return _public_record(published)
    incident = find_incident(ref, staff=_staff())
    if incident is None:
        return _not_found("incident")
    if isinstance(ref, int) and not _staff():
        # An old numbered URL of a published incident (web.incident_refs): its record is at its public id.
        return redirect(url_for("api.incident_get", ref=incident.public_id), 301)  # type: ignore[return-value]
    record = api_pages.incident_by_id(incident.id, staff=_staff(), permalink_prefix=_permalink_prefix())
    return _json(record) if record is not None else _not_found("incident")


def _public_record(published: public_page.PublishedIncident) -> Response:
    """The public's record, from the stored one, with an ETag; 304 when the client holds it already."""
    validators = conditional.record_validators(published)
    unchanged = conditional.not_modified(validators)
    if unchanged is not None:
        return unchanged
    record = api_pages.stored_public_record(published.public_id, published.record, _permalink_prefix())
    return conditional.with_validators(_json(record), validators)


@blueprint.put("/incidents/<incident:ref>")
def incident_replace(ref: IncidentRef) -> Response:
    """Replace the incident with the body; its version must be the one the client read (else 409)."""
    incident = _incident(ref)
    if incident is None:
        return _not_found("incident")
    incident_id = incident.id
    body = _body()
    if isinstance(body, Response):
        return body

    def replace() -> Saved:
        # Why the incident changes (required of a published or retracted one): beside its content. The body
        # is left as it came, for another attempt.
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise ValidationError({"reason": ["Not a valid string."]})
        content = {key: value for key, value in body.items() if key != "reason"}
        return update_incident(incident, content, api_actor(), reason=reason)

    saved = _attempt("incident.update", incident_id, replace)
    return saved if isinstance(saved, Response) else _saved_incident(saved, 200)


def _incident(ref: IncidentRef) -> Incident | None:
    """The incident a writer's URL names (by public id, or by number as before public ids), or None."""
    return find_incident(ref, staff=True)


def _conflict(incident_id: int) -> Response:
    version = current_version(incident_id)
    return problem(
        409,
        "Conflict",
        f"Someone else changed this incident (now version {version}); read it again and reapply.",
        kind="edit-conflict",
    )


@blueprint.delete("/incidents/<incident:ref>")
def incident_retract(ref: IncidentRef) -> Response:
    """Retract the incident (a soft delete, a reviewer's step): it leaves public view and stays in the
    database. The reason and the version read come in a JSON body, or as the query's reason and version."""
    incident = _incident(ref)
    if incident is None:
        return _not_found("incident")
    incident_id = incident.id
    body: dict[str, Any] | Response = (
        _body()
        if request.content_length
        else {k: v for k, v in request.args.items() if k in ("reason", "version")}
    )
    if isinstance(body, Response):
        return body

    def retract() -> Incident:
        asked = RetractionSchema().load(body)
        return retract_incident(incident, api_actor(), reason=asked["reason"], version=asked["version"])

    done = _attempt("incident.retract", incident_id, retract)
    return done if isinstance(done, Response) else Response(status=204)


@blueprint.post("/incidents/<incident:ref>/transitions")
def incident_transition(ref: IncidentRef) -> Response:
    """Move the incident along the publication workflow: {"to": "in_review", "version": 3, "reason": "…"}."""
    incident = _incident(ref)
    if incident is None:
        return _not_found("incident")
    incident_id = incident.id
    body = _body()
    if isinstance(body, Response):
        return body

    def move() -> Incident:
        asked = TransitionSchema().load(body)
        return transition(
            incident,
            asked["to"],
            api_actor(),
            reason=asked["reason"],
            version=asked["version"],
            override=asked["override"],
        )

    done = _attempt(f"incident.{body.get('to', 'transition')}", incident_id, move)
    if isinstance(done, Response):
        return done
    record = api_pages.incident_by_id(incident_id, staff=True, permalink_prefix=_permalink_prefix())
    return _json(record)


@blueprint.get("/sources")
@api_list_limit
def source_list() -> Response:
    """Sources in id order; the public sees those cited by a published incident."""
    try:
        cursor, limit = _page()
        after_id = decode_cursor(cursor)
    except ValidationError as error:
        return validation_problem(error, title="The query could not be read.", status=400)
    found, next_after = api_pages.source_page(staff=_staff(), after_id=after_id, limit=limit)
    return _json({"sources": found, "next_cursor": encode_cursor(next_after), "limit": limit})


@blueprint.get("/sources/<id:source_id>")
def source_get(source_id: int) -> Response:
    record = api_pages.source_by_id(source_id, staff=_staff()) if source_id <= MAX_INT else None
    return _json(record) if record is not None else _not_found("source")


@blueprint.post("/sources")
def source_create() -> Response:
    body = _body()
    if isinstance(body, Response):
        return body
    try:
        source = commit_unit(lambda: create_source(body, api_actor()))
    except DatabaseBusy as busy:
        return busy_problem(busy.retry_after)
    except ValidationError as error:
        db.session.rollback()
        return validation_problem(error)
    record = api_pages.source_by_id(source.id, staff=True)
    response = _json(record, 201)
    response.headers["Location"] = url_for("api.source_get", source_id=source.id)
    return response


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return _json(openapi_spec())


@blueprint.get("/docs")
def docs() -> str:
    """The OpenAPI description as a readable page, rendered here: no CDN, no script."""
    return render_template("api/docs.html", spec=openapi_spec(), export_format_version=FORMAT_VERSION)


@blueprint.errorhandler(Exception)
def server_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return http_problem(error)
    if is_busy(error):
        # A write outside the saves above (a refusal kept in the audit trail) met a busy database.
        db.session.rollback()
        current_app.logger.warning("database busy: %s %s: %s", request.method, request.path, error)
        return busy_problem(retry_after())
    current_app.logger.exception("API error")
    return problem(500, "Internal Server Error", "The error was logged.")


@blueprint.after_request
def no_store_for_editors(response: Response) -> Response:
    if api_user() is not None:
        response.headers["Cache-Control"] = "no-store"
    return response

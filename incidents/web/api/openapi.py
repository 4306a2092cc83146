"""The OpenAPI 3 description of the API, generated from the marshmallow schemas the API really uses."""

from __future__ import annotations

import copy
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app

from incidents.public_ids import PATTERN
from incidents.schemas import IncidentInputSchema, SourceInputSchema
from incidents.schemas.fields import MAX_INT
from incidents.schemas.filters import IncidentFilterSchema
from incidents.schemas.workflow import IncidentReplacementSchema, RetractionSchema, TransitionSchema
from incidents.web.api import schemas as out

# 1.1: claims carry their group. 1.2: the publication workflow: POST …/transitions, in_review, a reason to
# correct a published incident (PUT) and to retract one (DELETE, with the version read). 2.0: incidents are
# known by their public id (a string; the number still names one in a URL, for an editor's token, and a
# published incident from before public ids for anyone, by redirect); the incidents' cursor is opaque.
API_VERSION = "2.0.0"

_DESCRIPTION = """\
Incidents, with their sources and casualty claims, as the public and as editors see them.

Reading needs no token and shows published incidents only, without confidential fields. With an editor's
token (`Authorization: Bearer inc_…`, made by `flask --app incidents create-token EMAIL`) reading shows
every incident with its status and confidential notes, and writing is allowed. Errors are problem details
(RFC 9457, `application/problem+json`); validation errors carry `errors`, messages keyed by field path.
Incidents are known by their public id (12 characters, random), which tells nothing of how many incidents
are unpublished. Lists are in the order the records were entered and paged by an opaque cursor: pass
`next_cursor` back as `cursor`.
Deleting an incident retracts it (a soft delete): it leaves public view and stays in the database.
"""


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": "Problem"}},
    }


def _ok(schema: Any, description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _saved(description: str) -> dict[str, Any]:
    """A save's answer: the staff record, and the possible duplicates the save flagged."""
    return {
        **_ok("StaffIncidentRecord", description),
        "headers": {
            "X-Possible-Duplicates": {
                "description": "The ids of incidents this save flagged as possible duplicates of this one "
                "(same type, within 3 days and 10 km), comma-separated; absent when it flagged none. An "
                "editor confirms or merges them from the incident's page.",
                "schema": {"type": "string", "pattern": f"^{PATTERN}(, {PATTERN})*$"},
            }
        },
    }


_INCIDENT_ANY = {
    "anyOf": [
        {"$ref": "#/components/schemas/IncidentRecord"},
        {"$ref": "#/components/schemas/StaffIncidentRecord"},
    ]
}
_ID = {"type": "integer", "minimum": 1, "maximum": MAX_INT}
_INCIDENT_REF = {
    "type": "string",
    "pattern": f"^({PATTERN}|[1-9][0-9]{{0,9}})$",
    "description": "The incident's public id; with an editor's token, its number too. Without a token, the "
    "number of a published incident from before public ids answers 301 to its public id.",
}
_TOKEN_OPTIONAL: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]
_TOKEN: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def build_spec() -> dict[str, Any]:
    spec = APISpec(
        title="incidents API",
        version=API_VERSION,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": _DESCRIPTION},
    )
    _add_components(spec)
    _add_incidents_path(spec)
    _add_incident_path(spec)
    _add_transitions_path(spec)
    _add_sources_path(spec)
    _add_source_path(spec)
    document = spec.to_dict()
    _filters_as_text(document)
    _close_objects(document["components"]["schemas"])
    return document


def _add_components(spec: APISpec) -> None:
    """The token's security scheme, and the schemas of the records, pages and inputs."""
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for name, schema in (
        # Nested schemas first: apispec names the ones it meets inside others by itself.
        ("Problem", out.ProblemSchema),
        ("SourceRecord", out.SourceRecordSchema),
        ("IncidentRecord", out.IncidentRecordSchema),
        ("StaffIncidentRecord", out.StaffIncidentRecordSchema),
        ("SourcePage", out.SourcePageSchema),
        ("SourceInput", SourceInputSchema),
        ("IncidentInput", IncidentInputSchema),
        ("IncidentReplacement", IncidentReplacementSchema),
        ("Transition", TransitionSchema),
        ("Retraction", RetractionSchema),
    ):
        spec.components.schema(name, schema=schema)
    spec.components.schema(
        "IncidentPage",
        {
            "type": "object",
            "required": ["incidents", "next_cursor", "limit"],
            "properties": {
                "incidents": {"type": "array", "items": _INCIDENT_ANY},
                "next_cursor": {"type": "string", "nullable": True},
                "limit": {"type": "integer"},
            },
        },
    )


# Parts that several paths share, made anew for each description.


def _page_parameters() -> list[dict[str, Any]]:
    return [
        {
            "in": "query",
            "name": "cursor",
            "schema": {"type": "string", "maxLength": 100},
            "description": "The next_cursor of the previous page",
        },
        {"in": "query", "name": "limit", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
    ]


def _bad_query() -> dict[str, Any]:
    return _problem("A filter, the cursor or the limit cannot be read")


def _invalid_token() -> dict[str, Any]:
    return _problem("The token is unknown, revoked or malformed")


def _needs_token() -> dict[str, Any]:
    return _problem("No token, or an unknown, revoked or malformed one")


def _forbidden() -> dict[str, Any]:
    return _problem("This account may not use the API")


def _retry_after(description: str) -> dict[str, Any]:
    return {"Retry-After": {"description": description, "schema": {"type": "integer", "minimum": 1}}}


def _costly_list() -> dict[str, Any]:
    """The answers to a list that asks too much: too many pages without a token, or past the time budget."""
    return {
        "429": {
            **_problem("Too many pages of the lists from this address without a token (type rate-limited)"),
            "headers": _retry_after("Seconds until the limit's window ends"),
        },
        "503": {
            **_problem("The query took longer than its time budget (type too-costly): narrow the filters"),
            "headers": _retry_after("Seconds to wait before sending it again"),
        },
    }


def _bad_body() -> dict[str, Any]:
    """The answers to a write whose body or token is refused."""
    return {
        "400": _problem("The body is not JSON"),
        "401": _needs_token(),
        "403": _forbidden(),
        "413": _problem("The body is too large"),
        "415": _problem("The body is not application/json"),
        "422": _problem("The input is not valid; errors holds the messages by field path"),
        "503": {
            **_problem("The database stayed busy with other changes: nothing was saved; send it again"),
            "headers": _retry_after("Seconds to wait before sending it again"),
        },
    }


def _json_body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _add_incidents_path(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/incidents",
        operations={
            "get": {
                "operationId": "listIncidents",
                "summary": "List incidents matching the filters (the same as the list, map and timeline)",
                "security": _TOKEN_OPTIONAL,
                "parameters": [
                    {"in": "query", "schema": IncidentFilterSchema(exclude=("page",))},
                    *_page_parameters(),
                ],
                "responses": {
                    "200": _ok("IncidentPage"),
                    "400": _bad_query(),
                    "401": _invalid_token(),
                    **_costly_list(),
                },
            },
            "post": {
                "operationId": "createIncident",
                "summary": "Create an incident with its citations, claims and best estimates",
                "security": _TOKEN,
                "requestBody": _json_body("IncidentInput"),
                "responses": {"201": _saved("Created"), **_bad_body()},
            },
        },
    )


def _add_incident_path(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/incidents/{incident_id}",
        parameters=[{"in": "path", "name": "incident_id", "required": True, "schema": _INCIDENT_REF}],
        operations={
            "get": {
                "operationId": "getIncident",
                "summary": "One incident (unpublished ones only with an editor's token)",
                "security": _TOKEN_OPTIONAL,
                "responses": {
                    "200": _ok(_INCIDENT_ANY),
                    "301": {"description": "A number from before public ids, without a token: see Location"},
                    "401": _invalid_token(),
                    "404": _problem("No such incident, or not visible without a token"),
                },
            },
            "put": {
                "operationId": "replaceIncident",
                "summary": "Replace an incident: version is the one read (missing: 422; stale: 409)",
                "security": _TOKEN,
                "requestBody": _json_body("IncidentReplacement"),
                "responses": {
                    "200": _saved("Replaced"),
                    **_bad_body(),
                    "403": _problem("This account may not use the API, or not change this incident now"),
                    "404": _problem("No such incident"),
                    "409": _problem(
                        "Someone else changed the incident since that version, or its status differs"
                    ),
                },
            },
            "delete": {
                "operationId": "retractIncident",
                "summary": "Retract a published incident (a reviewer's move: a reason, the version read)",
                "security": _TOKEN,
                "parameters": [
                    {"in": "query", "name": "reason", "schema": {"type": "string", "maxLength": 2000}},
                    {"in": "query", "name": "version", "schema": _ID},
                ],
                "requestBody": {"required": False, "content": {"application/json": {"schema": "Retraction"}}},
                "responses": {
                    "204": {"description": "Retracted"},
                    **_bad_body(),
                    "403": _problem("This account may not use the API, or may not retract"),
                    "404": _problem("No such incident"),
                    "409": _problem("Not published, or someone else saved it since that version"),
                },
            },
        },
    )


def _add_transitions_path(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/incidents/{incident_id}/transitions",
        parameters=[{"in": "path", "name": "incident_id", "required": True, "schema": _INCIDENT_REF}],
        operations={
            "post": {
                "operationId": "moveIncident",
                "summary": "Move an incident along the workflow (submit, send back, publish, retract)",
                "security": _TOKEN,
                "requestBody": _json_body("Transition"),
                "responses": {
                    "200": _ok("StaffIncidentRecord", "Moved"),
                    **_bad_body(),
                    "403": _problem(
                        "This account may not make this move (a reviewer's, or their own change)"
                    ),
                    "404": _problem("No such incident"),
                    "409": _problem(
                        "Not a move from the incident's status, a possible duplicate, or a stale version"
                    ),
                },
            }
        },
    )


def _add_sources_path(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/sources",
        operations={
            "get": {
                "operationId": "listSources",
                "summary": "List sources (the public sees those cited by a published incident)",
                "security": _TOKEN_OPTIONAL,
                "parameters": _page_parameters(),
                "responses": {
                    "200": _ok("SourcePage"),
                    "400": _bad_query(),
                    "401": _invalid_token(),
                    **_costly_list(),
                },
            },
            "post": {
                "operationId": "createSource",
                "summary": "Create a source",
                "security": _TOKEN,
                "requestBody": _json_body("SourceInput"),
                "responses": {"201": _ok("SourceRecord", "Created"), **_bad_body()},
            },
        },
    )


def _add_source_path(spec: APISpec) -> None:
    spec.path(
        path="/api/v1/sources/{source_id}",
        parameters=[{"in": "path", "name": "source_id", "required": True, "schema": _ID}],
        operations={
            "get": {
                "operationId": "getSource",
                "summary": "One source",
                "security": _TOKEN_OPTIONAL,
                "responses": {
                    "200": _ok("SourceRecord"),
                    "401": _invalid_token(),
                    "404": _problem("No such source, or not visible without a token"),
                },
            },
        },
    )


def _filters_as_text(document: dict[str, Any]) -> None:
    """Custom filter fields (bbox …) have no JSON type of their own: in a query string they are text."""
    for parameter in document["paths"]["/api/v1/incidents"]["get"]["parameters"]:
        if "type" not in parameter["schema"] and "enum" not in parameter["schema"]:
            parameter["schema"]["type"] = "string"


def _close_objects(schemas: dict[str, Any]) -> None:
    """Output records have exactly the documented members: say so, so that any extra one is caught."""
    for name, schema in schemas.items():
        if name.endswith("Record") or name in ("SourcePage", "IncidentPage"):
            schema.setdefault("additionalProperties", False)


def openapi_spec() -> dict[str, Any]:
    """The description, built once per app (the schemas do not change while it runs)."""
    cached = current_app.extensions.get("incidents_openapi")
    if cached is None:
        cached = current_app.extensions["incidents_openapi"] = build_spec()
    return copy.deepcopy(cached)

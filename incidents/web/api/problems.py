"""Errors as RFC 9457 problem details: application/problem+json with type, title, status and detail."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from incidents.schemas.errors import error_paths

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/api/v1/problems/"  # relative references, resolved against the API's address


# Endpoints outside the API that programs read (the exports, the map's data), answered with problems too.
_READ_BY_PROGRAMS = frozenset({"exports.export", "maps.data"})


def wants_problem() -> bool:
    """Whether this request's refusals are problem details (the API, the exports, the map's data) rather
    than pages."""
    return request.blueprint == "api" or request.endpoint in _READ_BY_PROGRAMS


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    kind: str | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + kind if kind else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = Response(orjson.dumps(body), status=status, mimetype=PROBLEM_MEDIA_TYPE)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def validation_problem(
    error: ValidationError, *, title: str = "The input is not valid.", status: int = 422
) -> Response:
    errors = error_paths(error.messages)
    detail = "; ".join(f"{path}: {' '.join(texts)}" for path, texts in errors.items())
    return problem(status, title, detail, kind="validation", errors=errors)


def http_problem(error: HTTPException) -> Response:
    """Any HTTP error (404, 405, 413 …) as a problem; 405 keeps its Allow header."""
    status = error.code or 500
    headers = {}
    if status == 405:
        response = error.get_response()
        headers["Allow"] = response.headers.get("Allow", "")
    return problem(status, error.name, error.description, headers=headers)


def busy_problem(retry_after: int) -> Response:
    """503: the database stayed busy with other changes; nothing of this request's change was saved."""
    return problem(
        503,
        "Service Unavailable",
        "The database is busy with other changes and this one could not wait longer: nothing was saved. "
        "Send it again after the seconds the Retry-After header gives.",
        kind="busy",
        headers={"Retry-After": str(retry_after)},
    )


def too_costly_problem(detail: str, retry_after: int) -> Response:
    """503: the request's queries ran past its time budget (web.budget); narrow it, or try again later."""
    return problem(
        503,
        "The request asks too much of the server",
        detail,
        kind="too-costly",
        headers={"Retry-After": str(retry_after)},
    )


def rate_limited_problem(detail: str, retry_after: int) -> Response:
    """429: this client made too many of these requests in the limit's window (web.rate_limits)."""
    return problem(
        429, "Too Many Requests", detail, kind="rate-limited", headers={"Retry-After": str(retry_after)}
    )

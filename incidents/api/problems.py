"""Errors as RFC 9457 problem details: application/problem+json with type, title, status and detail."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "/api/v1/problems/"  # relative references, resolved against the API's address


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


def error_paths(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages keyed by field path: {"citations.0.claims.1.high": ["…"]}."""
    paths: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else str(key))
            for path, texts in error_paths(value, name).items():
                paths.setdefault(path, []).extend(texts)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        paths[prefix or "_body"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for path, texts in error_paths(item, prefix).items():
                paths.setdefault(path, []).extend(texts)
    else:
        paths[prefix or "_body"] = [str(messages)]
    return paths


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

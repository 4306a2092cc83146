"""schemathesis fuzzes the API from its own OpenAPI description: no 5xx, every response as described."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from flask import Flask
from flask.testing import FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents.models import User
from incidents.vocabulary import Role
from tests.factories import create_api_token, load_demo

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 12  # per operation and audience: enough to find a 5xx, few enough to keep the suite fast


def test_api_conforms_to_its_openapi_description(
    app: Flask, runner: FlaskCliRunner, make_user: Callable[..., User]
) -> None:
    load_demo(runner)
    editor = create_api_token(app, make_user("fuzz@example.org"), "fuzz")
    reviewer = create_api_token(app, make_user("reviewer@example.org", Role.REVIEWER), "fuzz")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    for operation in operations:
        audiences: list[dict[str, str]] = [{"Authorization": f"Bearer {editor}"}]
        if operation.method.upper() == "GET":
            audiences.append({})
        else:
            audiences.append({"Authorization": f"Bearer {reviewer}"})
        for headers in audiences:
            _fuzz(operation, headers)


def _fuzz(operation: Any, headers: dict[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    call()

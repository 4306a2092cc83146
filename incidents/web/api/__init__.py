"""The REST API under /api/v1/, with its OpenAPI description and documentation page."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from incidents.extensions import csrf
from incidents.web.api.problems import http_problem

API_PREFIX = "/api/"


def init_app(app: Flask) -> None:
    from incidents.web.api.views import blueprint

    # Token-authenticated only (see incidents.web.api.auth): no cookie, so no cross-site request, can write.
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)

    @app.errorhandler(HTTPException)
    def api_http_error(error: HTTPException) -> HTTPException | Response:
        """Under /api/ every error is a problem (a 404 for an unknown path too); elsewhere Flask's page."""
        if request.path.startswith(API_PREFIX):
            return http_problem(error)
        return error

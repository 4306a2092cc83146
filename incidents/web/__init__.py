"""The web layer: every page and endpoint, for browsers and API clients.

Views parse their input (a form, a query string, a JSON body), call a service (incidents.services) or a read
model (incidents.queries, incidents.exports), and render. Nothing here knows SQL or the rules of the data.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask


def init_app(app: Flask) -> None:
    from incidents.domain.dating import date_label
    from incidents.queries.shown import location_of, source_of
    from incidents.web import (
        account,
        admin,
        api,
        auth,
        budget,
        busy,
        duplicates,
        erasure,
        exports,
        imports,
        incidents,
        map,
        rate_limits,
        review,
        routing,
        security,
        templating,
        timeline,
        vendor,
    )

    app.url_map.converters["id"] = routing.RecordIdConverter
    app.url_map.converters["incident"] = routing.IncidentRefConverter
    security.init_app(app)
    budget.init_app(app)  # after security: the budget depends on who asks
    rate_limits.init_app(app)
    busy.init_app(app)
    templating.init_app(app)
    vendor.init_app(app)
    app.jinja_env.globals["date_label"] = date_label
    # What the person asking may see of an incident's location and of a source (queries.shown).
    app.jinja_env.globals["where"] = lambda incident: location_of(incident, staff=security.is_staff())
    app.jinja_env.globals["shown_source"] = lambda source: source_of(source, staff=security.is_staff())

    @app.context_processor
    def today() -> dict[str, Any]:
        # For "accessed on" in the citation line an incident page suggests.
        return {"today": dt.date.today()}

    for blueprint in (
        auth.blueprint,
        account.blueprint,
        review.blueprint,
        incidents.blueprint,
        admin.blueprint,
        exports.blueprint,
        map.blueprint,
        timeline.blueprint,
        imports.blueprint,
        erasure.blueprint,
    ):
        app.register_blueprint(blueprint)
    app.add_url_rule("/", endpoint="index", view_func=map.map_page)  # the map is the home page
    api.init_app(app)
    duplicates.init_app(app)

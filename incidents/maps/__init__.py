"""The public map of incidents: the page at /, its folium-built script, and its GeoJSON data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask


def init_app(app: Flask) -> None:
    from incidents.domain.dating import date_label
    from incidents.maps import cli, views

    app.jinja_env.globals["date_label"] = date_label

    @app.context_processor
    def today() -> dict[str, Any]:
        # For "accessed on" in the citation line an incident page suggests.
        return {"today": dt.date.today()}

    app.register_blueprint(views.blueprint)
    app.add_url_rule("/", endpoint="index", view_func=views.map_page)
    cli.init_app(app)

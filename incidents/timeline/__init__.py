"""The timeline page: incidents in date order, grouped by month, with a chart per week."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from incidents.timeline import views

    app.register_blueprint(views.blueprint)

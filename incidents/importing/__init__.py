"""Importing incidents from files: UCDP GED (CSV or GeoJSON), ACLED, any CSV by a column mapping, and our
own JSON export. One road for all: every record is loaded through IncidentInputSchema.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from incidents.importing import cli, views

    app.register_blueprint(views.blueprint)
    app.cli.add_command(cli.import_command)

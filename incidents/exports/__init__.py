"""Exports: a selection of incidents, serialized for an audience, streamed as JSON, GeoJSON or CSV."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from incidents.exports import cli, views

    app.register_blueprint(views.blueprint)
    app.cli.add_command(cli.export_command)
    app.cli.add_command(cli.create_token_command)
    app.cli.add_command(cli.revoke_token_command)
    app.cli.add_command(cli.records_command)

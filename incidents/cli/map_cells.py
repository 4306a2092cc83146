"""`flask --app incidents map-cells`: rebuild the map's rollup after loading rows around the ORM."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from incidents.derived import map_cells
from incidents.extensions import db


@click.command("map-cells")
@with_appcontext
def map_cells_command() -> None:
    """Rebuild the map's counts per grid cell from the incidents (after a bulk load by SQL)."""
    with db.engine.begin() as connection:
        cells = map_cells.rebuild(connection)
    click.echo(f"Rebuilt the map's rollup: {cells} cells.")

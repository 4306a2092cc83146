"""`flask --app incidents public-locations`: move every public location to the grid configured now."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from incidents.extensions import db
from incidents.services.location_rules import refresh_all


@click.command("public-locations")
@with_appcontext
def public_locations_command() -> None:
    """Recompute the location the public sees of every incident (after LOCATION_GRID_DEGREES changed): the
    map's rollup and the stored records move with them. Batch by batch, each committed."""
    moved = refresh_all(db.session.commit)
    click.echo(f"{moved} incident(s) now shown at a new public location.")

"""`flask --app incidents load-demo`: the demo data set of the Peru crackdown."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from incidents.extensions import db
from incidents.queries.selection import incident_count
from incidents.services.demo import DemoDataError, load_demo
from incidents.services.incident_types import seed_incident_types


@click.command("load-demo")
@click.option(
    "--publish/--draft",
    default=True,
    show_default=True,
    help="Publish the demo incidents (visible to the public) or keep them as drafts for staff only.",
)
@click.option("--if-empty", is_flag=True, help="Load nothing when the database already has incidents.")
@with_appcontext
def load_demo_command(publish: bool, if_empty: bool) -> None:
    """Load the demo data set: eleven incidents of the Peru crackdown, December 2022 – January 2023."""
    if if_empty:
        existing = incident_count()
        if existing:
            click.echo(f"The database already has {existing} incident(s); nothing loaded (--if-empty).")
            return
    try:
        seed_incident_types()
        count = load_demo(publish=publish)
        db.session.commit()
    except DemoDataError as error:
        db.session.rollback()
        raise click.ClickException(f"Demo data not loaded: {error}") from error
    except BaseException:
        db.session.rollback()
        raise
    state = "published" if publish else "draft"
    click.echo(f"Loaded {count} demo incidents ({state}).")

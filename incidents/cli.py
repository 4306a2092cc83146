"""Command-line operations: `flask --app incidents COMMAND`."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext

from incidents.auth.accounts import AccountError, create_user
from incidents.extensions import db
from incidents.vocabulary import Role


@click.command("create-user")
@click.argument("email")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.EDITOR.value, show_default=True
)
@click.option("--password", help="Prompted for (hidden, twice) when absent.")
@with_appcontext
def create_user_command(email: str, role: str, password: str | None) -> None:
    """Create a staff account."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(email, password, Role(role))
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role.value} {user.email}")


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
    from incidents.demo import DemoDataError, load_demo
    from incidents.models import Incident
    from incidents.services.incident_types import seed_incident_types

    if if_empty:
        existing = db.session.scalar(sa.select(sa.func.count()).select_from(Incident))
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


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(load_demo_command)

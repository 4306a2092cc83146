"""`flask --app incidents create-user`: staff accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.services.accounts import AccountError, create_user
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
        user = create_user(email, password, Role(role), COMMAND_LINE)
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role.value} {user.email}")

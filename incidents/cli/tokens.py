"""`flask --app incidents create-token` and `revoke-token`: API tokens for staff accounts."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.services.tokens import TokenError, create_token_for, revoke_tokens


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (a laptop, a script …).")
@with_appcontext
def create_token_command(email: str, name: str) -> None:
    """Create an API token for a staff account; the token is printed once, as the last line."""
    try:
        record, token = create_token_for(email, name, COMMAND_LINE)
        db.session.commit()
    except TokenError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(
        f"Token {record.prefix}… for {record.user.email}, valid until {record.expires_at:%Y-%m-%d}. It is "
        "shown only now; keep it secret:"
    )
    click.echo(token)


@click.command("revoke-token")
@click.argument("prefix")
@with_appcontext
def revoke_token_command(prefix: str) -> None:
    """Revoke the API token whose first characters (as create-token printed them) are PREFIX."""
    try:
        count = revoke_tokens(prefix, COMMAND_LINE)
        db.session.commit()
    except TokenError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None
    click.echo(f"Revoked {count} token(s) starting with {prefix[:12]}.")

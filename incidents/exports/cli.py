"""`flask --app incidents export …`, and API tokens: `create-token`, `revoke-token`."""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError, fields
from werkzeug.datastructures import MultiDict

from incidents.auth.tokens import create_token, revoke_token
from incidents.exports.build import make_export
from incidents.exports.formats import FORMATS, WRITERS
from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.schemas.errors import error_paths
from incidents.schemas.filters import IncidentFilterSchema

DEFAULT_BASE_URL = "http://127.0.0.1:5000/"


def _filter_options() -> list[tuple[str, click.Option]]:
    """One option per filter of the URL (--date-from for date_from …), so the two never drift apart."""
    options = []
    for name, field in IncidentFilterSchema().fields.items():
        if name == "page":
            continue
        flag = "--" + name.replace("_", "-")
        repeated = isinstance(field, fields.List)
        help_text = "filter, as the URL parameter " + name + (" (repeat for several)" if repeated else "")
        options.append((name, click.Option([flag, name], multiple=repeated, help=help_text)))
    return options


FILTER_OPTIONS = _filter_options()


def _filters(values: dict[str, Any]) -> dict[str, Any]:
    args: MultiDict[str, str] = MultiDict()
    for name, _option in FILTER_OPTIONS:
        value = values.get(name)
        for item in value if isinstance(value, tuple) else [value]:
            if item is not None:
                args.add(name, item)
    from incidents.schemas.filters import filters_from_args

    try:
        return filters_from_args(args)
    except ValidationError as error:
        problems = "; ".join(
            f"--{path.split('.')[0].replace('_', '-')}: {' '.join(texts)}"
            for path, texts in error_paths(error.messages).items()
        )
        raise click.UsageError(problems) from error


def _export_command(**options: Any) -> None:
    """Export incidents as JSON, GeoJSON or CSV, with the same filters as the URL.

    Writes to standard output unless -o FILE is given (then a progress bar goes to standard error).
    Without --include-drafts it exports what the public sees: published incidents, no confidential fields.
    """
    fmt: str = options.pop("fmt")
    output: str | None = options.pop("output")
    staff: bool = options.pop("include_drafts")
    hxl: bool = options.pop("hxl")
    base_url: str = options.pop("base_url") or current_app.config.get("PUBLIC_BASE_URL") or DEFAULT_BASE_URL
    if hxl and fmt != "csv":
        raise click.UsageError("--hxl applies to --format csv only.")
    filters = _filters(options)
    export = make_export(filters, staff=staff, fmt=fmt, base_url=base_url, hxl=hxl)
    if output is None:
        _write(WRITERS[fmt](export), sys.stdout.buffer)
        return
    with open(output, "wb") as target:
        total = export.stored.count()
        with click.progressbar(length=total, label=f"Exporting {total} incidents", file=sys.stderr) as bar:
            done = 0

            def advance(written: int) -> None:
                nonlocal done
                bar.update(written - done)
                done = written

            export.progress = advance
            _write(WRITERS[fmt](export), target)
    click.echo(f"Wrote {done} incidents to {output}.", err=True)


def _write(chunks: Any, target: BinaryIO) -> None:
    for chunk in chunks:
        target.write(chunk)
    target.flush()


export_command = click.Command(
    "export",
    callback=with_appcontext(_export_command),
    help=_export_command.__doc__,
    params=[
        click.Option(["--format", "fmt"], type=click.Choice(FORMATS), default="json", show_default=True),
        click.Option(
            ["-o", "--output"], type=click.Path(dir_okay=False, writable=True), help="File to write"
        ),
        click.Option(
            ["--include-drafts"],
            is_flag=True,
            help="Staff export: every status, with confidential fields. Keep it private.",
        ),
        click.Option(["--hxl"], is_flag=True, help="CSV: a second row of HXL hashtags."),
        click.Option(
            ["--base-url"],
            help=f"Address of the app for permalinks (PUBLIC_BASE_URL, else {DEFAULT_BASE_URL}).",
        ),
        *[option for _name, option in FILTER_OPTIONS],
    ],
)


@click.command("create-token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for (a laptop, a script …).")
@with_appcontext
def create_token_command(email: str, name: str) -> None:
    """Create an API token for a staff account; the token is printed once, as the last line."""
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active:
        raise click.ClickException(f"There is no active account {email!r}.")
    record, token = create_token(user, name)
    db.session.commit()
    click.echo(f"Token {record.prefix}… for {user.email}. It is shown only now; keep it secret:")
    click.echo(token)


@click.command("revoke-token")
@click.argument("prefix")
@with_appcontext
def revoke_token_command(prefix: str) -> None:
    """Revoke the API token whose first characters (as create-token printed them) are PREFIX."""
    matches = db.session.scalars(sa.select(ApiToken).where(ApiToken.prefix == prefix[:12])).all()
    active = [record for record in matches if record.is_active]
    if len(prefix) < 12 or not active:
        raise click.ClickException(f"No active token starts with {prefix!r} (give its first 12 characters).")
    for record in active:
        revoke_token(record)
    db.session.commit()
    click.echo(f"Revoked {len(active)} token(s) starting with {prefix[:12]}.")


@click.command("records")
@click.option(
    "--check", "mode", flag_value="check", default=True, help="Compare every stored record (default)."
)
@click.option("--rebuild", "mode", flag_value="rebuild", help="Write every stored record anew.")
@with_appcontext
def records_command(mode: str) -> None:
    """Check or rebuild the stored public records the JSON export streams (see exports/stored.py)."""
    from incidents.derived import records

    total = db.session.scalar(sa.select(sa.func.count()).select_from(records.INCIDENTS)) or 0
    if mode == "rebuild":
        with click.progressbar(length=total, label="Rebuilding records", file=sys.stderr) as bar:
            done = 0

            def tick(now: int) -> None:
                nonlocal done
                bar.update(now - done)
                done = now

            written = records.refresh_all(db.session.connection, db.session.commit, tick)
        click.echo(f"Rebuilt {written} stored record(s).")
        return
    wrong = records.check(db.session.connection())
    db.session.rollback()
    if wrong:
        shown = ", ".join(map(str, wrong[:20])) + (" …" if len(wrong) > 20 else "")
        raise click.ClickException(
            f"{len(wrong)} of {total} stored record(s) are missing or out of date (incidents {shown}). "
            "Run `flask --app incidents records --rebuild`."
        )
    click.echo(f"All {total} stored record(s) match their incidents.")

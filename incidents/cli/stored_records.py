"""`flask --app incidents records`: check or rebuild the stored public records the JSON export streams."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from incidents.derived import stored_records
from incidents.extensions import db
from incidents.queries.selection import incident_count


@click.command("records")
@click.option(
    "--check", "mode", flag_value="check", default=True, help="Compare every stored record (default)."
)
@click.option("--rebuild", "mode", flag_value="rebuild", help="Write every stored record anew.")
@with_appcontext
def records_command(mode: str) -> None:
    """Check or rebuild the stored public records the JSON export streams (see derived/stored_records.py)."""
    total = incident_count()
    if mode == "rebuild":
        with click.progressbar(length=total, label="Rebuilding records", file=sys.stderr) as bar:
            done = 0

            def tick(now: int) -> None:
                nonlocal done
                bar.update(now - done)
                done = now

            written = stored_records.refresh_all(db.session.connection, db.session.commit, tick)
        click.echo(f"Rebuilt {written} stored record(s).")
        return
    wrong = stored_records.check(db.session.connection())
    db.session.rollback()
    if wrong:
        shown = ", ".join(map(str, wrong[:20])) + (" …" if len(wrong) > 20 else "")
        raise click.ClickException(
            f"{len(wrong)} of {total} stored record(s) are missing or out of date (incidents {shown}). "
            "Run `flask --app incidents records --rebuild`."
        )
    click.echo(f"All {total} stored record(s) match their incidents.")

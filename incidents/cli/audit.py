"""`flask --app incidents audit verify` and `audit export`: the audit trail's hash chain, checked, copied."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from incidents import audit
from incidents.extensions import db


@click.group("audit")
def audit_group() -> None:
    """The audit trail: every change, who made it, when and why, in a tamper-evident hash chain."""


@audit_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Walk the chain; report the first broken link (exit status 1) or the head hash."""
    found = audit.verify(db.session.connection())
    db.session.rollback()
    if not found.ok:
        raise click.ClickException(
            f"The audit trail is broken at entry {found.broken_at}: {found.problem}. The {found.count} "
            "entries before it hold."
        )
    click.echo(f"The audit trail holds: {found.count} entries, head {found.head_hash}.")


@audit_group.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write")
@with_appcontext
def export_command(output: str | None) -> None:
    """Write the chain as JSON Lines (one entry a line, then its head), to standard output or -o FILE."""
    lines = audit.export_lines(db.session.connection())
    if output is None:
        for line in lines:
            sys.stdout.write(line + "\n")
    else:
        with open(output, "w", encoding="utf-8") as target:
            for line in lines:
                target.write(line + "\n")
    db.session.rollback()

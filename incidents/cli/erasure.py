"""`flask --app incidents erase incident REF`, `erase source ID` and `erase purge`: erasure for good.

Each names the admin who decided it (`--as EMAIL`): the command line runs as the server's operator, but an
erasure cannot be undone, and the audit trail says whose decision it was.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from flask.cli import with_appcontext
from marshmallow import ValidationError

from incidents.audit import Actor, Channel
from incidents.extensions import db
from incidents.models import Incident, Source
from incidents.schemas.errors import by_top_field
from incidents.services import erasure
from incidents.services.accounts import account_by_email
from incidents.services.erasure import Erasure, ErasureRefused
from incidents.services.transactions import DatabaseBusy, commit_unit

_REASON = click.option(
    "--reason",
    required=True,
    help="Why it is erased (kept in the audit trail for good: do not repeat what is erased in it).",
)
_AS = click.option("--as", "email", required=True, metavar="EMAIL", help="The admin whose decision this is.")
_YES = click.option("--yes", is_flag=True, help="Do not ask for confirmation.")


@click.group("erase")
def erase_group() -> None:
    """Erase an incident or a source for good, with every copy the database keeps (see the README)."""


@erase_group.command("incident")
@click.argument("ref")
@_REASON
@_AS
@click.option(
    "--with-sources",
    is_flag=True,
    help="Erase too the sources that only this incident cites (without it they are kept, and named).",
)
@_YES
@with_appcontext
def erase_incident_command(ref: str, reason: str, email: str, with_sources: bool, yes: bool) -> None:
    """Erase the incident REF (its public id, or its number) and everything hanging on it."""
    actor = _admin(email)
    incident = _incident(ref)
    click.echo(
        f"Incident {incident.public_id} (number {incident.id}), “{incident.title}”, {incident.status.label}, "
        f"{len(incident.citations)} citation(s), will be erased for good"
        + (", with the sources only it cites." if with_sources else "; its sources are kept.")
    )
    number = incident.id
    db.session.rollback()
    if not yes:
        click.confirm("Erase it? This cannot be undone", abort=True)
    done = _erase(
        lambda: erasure.erase_incident(
            _incident(str(number)), actor, reason=reason, with_sources=with_sources
        )
    )
    click.echo(f"Erased incident {ref}: audit entry {done.seq}.")
    if done.sources:
        click.echo(f"Erased source(s) {_ids(done.sources)}, which only it cited.")
    if done.orphaned_sources:
        click.echo(
            f"Source(s) {_ids(done.orphaned_sources)} are cited by no incident now: kept. If they must go "
            "too: `flask --app incidents erase source ID`."
        )
    _report(done)


@erase_group.command("source")
@click.argument("source_id", metavar="ID", type=int)
@_REASON
@_AS
@_YES
@with_appcontext
def erase_source_command(source_id: int, reason: str, email: str, yes: bool) -> None:
    """Erase the source ID, its citations and their figures in every incident that cites it."""
    actor = _admin(email)
    source = _source(source_id)
    citing = sorted({citation.incident_id for citation in source.citations})
    click.echo(
        f"Source {source.id}, “{source.title}” ({source.kind.label}), cited by {len(citing)} incident(s), "
        "will be erased for good with its citations and figures; those incidents' ranges change."
    )
    db.session.rollback()
    if not yes:
        click.confirm("Erase it? This cannot be undone", abort=True)
    done = _erase(lambda: erasure.erase_source(_source(source_id), actor, reason=reason))
    click.echo(f"Erased source {source_id}: audit entry {done.seq}.")
    _report(done)


@erase_group.command("purge")
@with_appcontext
def purge_command() -> None:
    """Make the database's files forget what was erased (again, when an erasure found the database busy)."""
    _purge()


def _admin(email: str) -> Actor:
    user = account_by_email(email)
    db.session.rollback()
    if user is None or not user.is_active:
        raise click.ClickException(f"There is no active account {email!r}.")
    if not user.is_admin:
        raise click.ClickException(
            f"{user.email} is {user.role.value}, not admin: erasing is an admin's decision. Nothing was "
            "erased."
        )
    return Actor(user, Channel.CLI)


def _incident(ref: str) -> Incident:
    found = erasure.find_incident(ref)
    if found is None:
        raise click.ClickException(f"No incident {ref!r} (give its public id, or its number).")
    return found


def _source(source_id: int) -> Source:
    found = db.session.get(Source, source_id)
    if found is None:
        raise click.ClickException(f"No source {source_id}.")
    return found


def _erase(change: Callable[[], Erasure]) -> Erasure:
    try:
        return commit_unit(change)
    except ValidationError as error:
        db.session.rollback()
        problems = " ".join(f"{name}: {text}" for name, text in by_top_field(error.messages).items())
        raise click.ClickException(f"Nothing was erased. {problems}") from None
    except ErasureRefused as refused:
        db.session.rollback()
        raise click.ClickException(f"Nothing was erased. {refused}") from None
    except DatabaseBusy as busy:
        raise click.ClickException(f"Nothing was erased. {busy}") from None


def _report(done: Erasure) -> None:
    if done.changed:
        click.echo(f"Incident(s) changed (citations or a note removed, a new version): {_ids(done.changed)}.")
    click.echo(f"{len(done.entries)} audit entries keep tombstones in place of the erased values.")
    _purge()


def _purge() -> None:
    purged = erasure.purge()
    if not purged.done:
        raise click.ClickException(purged.message)
    click.echo(purged.message)
    click.echo("Backups taken before still hold it: see the README (Erasure).")


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)

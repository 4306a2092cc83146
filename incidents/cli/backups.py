"""`flask --app incidents backup [PATH]` and `restore PATH`: a checked copy of the database, and back."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask.cli import with_appcontext

from incidents.services import backups
from incidents.services.backups import BackupError


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


@click.command("backup")
@click.argument("path", required=False, type=click.Path())
@with_appcontext
def backup_command(path: str | None) -> None:
    """Back up the database to PATH, consistently while the app writes; check the copy; write PATH.json.

    PATH is a new file, or a folder (an existing one, or any ending with /) for a timestamped file in it;
    instance/backups/ when absent.
    """
    started = time.monotonic()
    try:
        taken = backups.take_backup(path)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    seconds = time.monotonic() - started
    manifest = taken.manifest
    state = manifest.state
    database = backups.describe_database()
    click.echo(f"Backed up the {database} to {taken.path} ({_size(manifest.size)}) in {seconds:.1f} s.")
    click.echo(f"Checked: {manifest.verified}.")
    click.echo(f"SHA-256: {manifest.sha256}")
    click.echo(
        f"Public export: {state.public_count} incident(s), checksum {state.public_checksum}; audit trail: "
        f"{state.audit_entries} entries."
    )
    click.echo(f"Manifest: {taken.manifest_path}")


@click.command("restore")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--manifest",
    "manifest_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The backup's manifest, when it is not beside it as PATH.json.",
)
@with_appcontext
def restore_command(path: Path, manifest_file: Path | None) -> None:
    """Restore the backup at PATH into the database, which must be empty, and check what it gives.

    The file is checked against its manifest (SHA-256, size) first; then, restored, the public export's
    checksum and the audit trail are compared with the manifest's. Exit status 1 when anything differs.
    """
    try:
        restored = backups.restore_backup(path, manifest_file)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    manifest = restored.manifest
    click.echo(
        f"Restored {path} (SHA-256 {manifest.sha256}, as its manifest says; taken {manifest.created_at}) "
        f"into the {backups.describe_database()}."
    )
    state = restored.state
    if restored.problems or state is None:
        raise click.ClickException(" ".join(restored.problems))
    click.echo(
        f"Public export: {state.public_count} incident(s), checksum {state.public_checksum}: as when the "
        f"backup was taken. Audit trail: {state.audit_entries} entries, head {state.audit_head}, as then."
    )

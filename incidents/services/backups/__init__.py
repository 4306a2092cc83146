"""Backups of the database, and a restore into an empty one (README, Backups and restore).

`take_backup` copies the database while the app goes on writing (SQLite: the online backup API, in one
step; PostgreSQL: pg_dump in custom format, in a snapshot held here), checks the copy (SQLite's integrity
check; pg_restore --list) and writes its manifest beside it (manifest.py), with what the copy holds read from
the very moment it was taken: from the copy itself on SQLite, from the snapshot pg_dump dumps on PostgreSQL.

`restore_backup` refuses a file that does not match its manifest, or a database that is not empty, before
touching anything; restores; and reads the public export's checksum and the audit trail from the restored
database, to compare with the manifest's.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app

from incidents.exports.stored import LAYOUT
from incidents.extensions import db
from incidents.private_files import create_private_file, private_folder, sqlite_file
from incidents.services.backups import postgresql, sqlite
from incidents.services.backups.manifest import (
    BackupError,
    DatabaseState,
    Manifest,
    alembic_revision,
    file_digest,
    manifest_path,
    read_manifest,
    read_state,
    write_manifest,
)

__all__ = [
    "Backup",
    "BackupError",
    "Manifest",
    "Restored",
    "describe_database",
    "restore_backup",
    "take_backup",
]

KINDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
EXTENSIONS = {"sqlite": "sqlite3", "postgresql": "dump"}


@dataclass(frozen=True)
class Backup:
    path: Path
    manifest_path: Path
    manifest: Manifest


@dataclass(frozen=True)
class Restored:
    """What a restore gave: the restored database's state, and each way it differs from the manifest's."""

    manifest: Manifest
    state: DatabaseState | None  # None when this code cannot read the restored schema (another revision)
    problems: list[str] = field(default_factory=list)


def database_kind() -> str:
    """The app database's kind, "sqlite" or "postgresql"; BackupError for any other."""
    kind = db.engine.dialect.name
    if kind not in KINDS:
        raise BackupError(f"Backups know SQLite and PostgreSQL databases, not {kind}.")
    return kind


def describe_database() -> str:
    """The app's database as messages name it, never with its password: "SQLite database /srv/….sqlite3"."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database}"
    return f"PostgreSQL database {url.render_as_string(hide_password=True)}"


# -- taking a backup ----------------------------------------------------------------------------------------


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def backup_path(given: str | None, kind: str, when: dt.datetime) -> Path:
    """Where the backup goes: the file PATH; a timestamped name in PATH when it is a folder or ends with a
    slash; in instance/backups/ when no PATH is given. Missing folders are made 0700."""
    name = f"incidents-{when.strftime('%Y%m%dT%H%M%SZ')}.{EXTENSIONS[kind]}"
    if given is None:
        path = private_folder(Path(current_app.instance_path) / "backups") / name
    elif given.endswith(("/", os.sep)) or Path(given).is_dir():
        path = private_folder(Path(given)) / name
    else:
        path = Path(given)
        private_folder(path.parent)
    for taken in (path, manifest_path(path)):
        if taken.exists():
            raise BackupError(f"{taken} exists already: a backup never replaces a file. Give another PATH.")
    return path


@contextmanager
def _reported(doing: str) -> Iterator[None]:
    """A failure of the file system or of the database as a BackupError that says what was being done."""
    try:
        yield
    except (OSError, sqlite3.Error, sa.exc.SQLAlchemyError) as error:
        cause = getattr(error, "orig", None) or error
        raise BackupError(f"{doing} failed: {cause}") from error


def take_backup(given: str | None = None) -> Backup:
    """Back up the app's database to a new file (see backup_path), checked, with its manifest beside it."""
    kind = database_kind()
    when = _now()
    with _reported(f"The backup of the {describe_database()}"):
        path = backup_path(given, kind, when)
        partial = path.with_name(path.name + ".partial")  # the copy, until it is whole and checked
        if not create_private_file(partial):
            raise BackupError(f"{partial} exists: another backup to {path} is under way, or was interrupted.")
        try:
            manifest = _copy(kind, partial, path.name, when)
            if path.exists():
                raise BackupError(f"{path} appeared while the backup was taken: it is left as it is.")
            partial.rename(path)
        finally:
            partial.unlink(missing_ok=True)
        write_manifest(manifest, manifest_path(path))
        _sync(path.parent)
    return Backup(path, manifest_path(path), manifest)


def _copy(kind: str, target: Path, name: str, when: dt.datetime) -> Manifest:
    """Copy the database into target, check the copy, and describe it."""
    if kind == "sqlite":
        sqlite.copy_out(db.engine, target)
        verified = sqlite.verify(target)
        with sqlite.reading(target) as copy:
            state = read_state(copy)
        method = sqlite.METHOD
    else:
        method, state = _dump_postgresql(target)
        verified = postgresql.verify(target)
    _sync(target)
    return Manifest(
        file=name,
        size=target.stat().st_size,
        sha256=file_digest(target),
        created_at=when.isoformat().replace("+00:00", "Z"),
        database=kind,
        method=method,
        verified=verified,
        state=state,
    )


def _dump_postgresql(target: Path) -> tuple[str, DatabaseState]:
    """pg_dump into target, and the state read from the same snapshot: a transaction here exports its
    snapshot, pg_dump takes it, and the state is read in that transaction, which stays open until the dump
    is written. Writes that commit meanwhile are in neither."""
    with db.engine.connect() as connection:
        snapshot_reader = connection.execution_options(isolation_level="REPEATABLE READ")
        with snapshot_reader.begin():
            snapshot = str(snapshot_reader.scalar(sa.text("SELECT pg_export_snapshot()")))
            method = postgresql.dump(db.engine.url, snapshot, target)
            state = read_state(snapshot_reader)
    return method, state


def _sync(path: Path) -> None:
    """Make the file's content (or a folder's entries) durable before the backup is reported taken."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- restoring one ------------------------------------------------------------------------------------------


def restore_backup(path: Path, manifest_file: Path | None = None) -> Restored:
    """Restore the backup at path into the app's database, which must be empty; check the result.

    Refused with BackupError, the database untouched, when the file does not match its manifest (damaged,
    truncated, another file), when the backup is of another kind of database, or when the database is not
    empty. Problems found once restored (a checksum that differs) are in the answer's problems.
    """
    if not path.is_file():
        raise BackupError(f"{path}: no such file. Nothing was restored.")
    manifest = read_manifest(manifest_file or manifest_path(path))
    kind = database_kind()
    if manifest.database != kind:
        raise BackupError(
            f"{path} is a backup of a {KINDS.get(manifest.database, manifest.database)} database; "
            f"the app's is a {describe_database()}: it cannot be restored there. Nothing was restored."
        )
    with _reported(f"Checking {path} and the {describe_database()}"):
        check_file(path, manifest)
        refuse_if_not_empty()
    db.session.remove()
    db.engine.dispose()  # no connection of the app's may hold the old, empty database open
    # Either way the restore is one transaction of the database: a failure leaves it empty.
    with _reported(f"Restoring {path} (nothing of it was kept)"):
        if kind == "sqlite":
            sqlite.copy_in(path, _sqlite_target())
        else:
            postgresql.restore(path, db.engine.url)
    with _reported(f"Checking the restored {describe_database()}"):
        if kind == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(sa.text("ANALYZE"))  # pg_restore leaves the planner's statistics empty
        db.engine.dispose()
        return _check_restored(manifest)


def _sqlite_target() -> Path:
    target = sqlite_file(current_app.config["SQLALCHEMY_DATABASE_URI"], Path(current_app.instance_path))
    if target is None:
        raise BackupError("A SQLite backup is restored into a database file; the app's database is none.")
    return target


def check_file(path: Path, manifest: Manifest) -> None:
    """BackupError unless the file has the size and SHA-256 its manifest gives."""
    size = path.stat().st_size
    if size != manifest.size:
        raise BackupError(
            f"{path} is {size} bytes long, its manifest says {manifest.size}: the file is truncated or "
            "damaged. Nothing was restored."
        )
    digest = file_digest(path)
    if digest != manifest.sha256:
        raise BackupError(
            f"{path} does not match its manifest: its SHA-256 is {digest}, the manifest's {manifest.sha256}. "
            "The file is damaged, or is not the one the manifest describes. Nothing was restored."
        )


def refuse_if_not_empty() -> None:
    """BackupError unless the app's database holds no table at all (a new database, a new file)."""
    with db.engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
    if tables:
        shown = ", ".join(tables[:5]) + (" …" if len(tables) > 5 else "")
        raise BackupError(
            f"The {describe_database()} is not empty: it has {len(tables)} table(s) ({shown}). A backup is "
            "restored only into an empty database, so that nothing is overwritten: make a new one (SQLite: a "
            "new file in DATABASE_URL; PostgreSQL: createdb) and restore into it. Nothing was restored."
        )


def _check_restored(manifest: Manifest) -> Restored:
    # The migrations Flask-Migrate was given (incidents/migrations/): the revision this code's schema is at.
    head = ScriptDirectory(current_app.extensions["migrate"].directory).get_current_head()
    with db.engine.connect() as connection:
        revision = alembic_revision(connection)
        if revision is not None and revision != head:
            return Restored(
                manifest,
                None,
                [
                    f"The restored schema is at Alembic revision {revision}, this code's at {head}: run "
                    "`flask --app incidents db upgrade`. The public export's checksum was not compared."
                ],
            )
        state = read_state(connection)
    return Restored(manifest, state, _differences(manifest, state))


def _differences(manifest: Manifest, state: DatabaseState) -> list[str]:
    expected = manifest.state
    problems = []
    if (state.public_count, state.public_checksum) != (expected.public_count, expected.public_checksum):
        problem = (
            f"The public export gives {state.public_count} incidents with checksum {state.public_checksum}; "
            f"the manifest says {expected.public_count} with {expected.public_checksum}."
        )
        if manifest.record_layout != LAYOUT:
            problem += (
                f" The backup was taken by code writing records of layout {manifest.record_layout!r}, this "
                f"code's is {LAYOUT!r}: that alone can change the checksum."
            )
        problems.append(problem)
    if not state.audit_holds:
        problems.append("The restored audit trail is broken: run `flask --app incidents audit verify`.")
    elif (state.audit_entries, state.audit_head) != (expected.audit_entries, expected.audit_head):
        problems.append(
            f"The restored audit trail has {state.audit_entries} entries, head {state.audit_head}; the "
            f"manifest says {expected.audit_entries}, head {expected.audit_head}."
        )
    return problems

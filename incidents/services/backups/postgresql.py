"""PostgreSQL: pg_dump in custom format, in a snapshot the caller holds; pg_restore --list and pg_restore.

The client programs are found on PATH, else in /usr/lib/postgresql/<version>/bin (the newest: pg_dump must
not be older than the server). The password goes to them in PGPASSWORD, never on a command line that every
account on the machine could read.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess  # noqa: S404 - the PostgreSQL client programs, run with arguments this module builds
from pathlib import Path

import sqlalchemy as sa

from incidents.services.backups.manifest import BackupError

# Where Debian and Ubuntu install each version's client programs (postgresql-client-<version>).
BIN_FOLDERS = "/usr/lib/postgresql/*/bin"


def _major(folder: str) -> int:
    version = Path(folder).parent.name
    return int(version) if version.isdigit() else 0


def tool(name: str) -> str:
    """The path of a PostgreSQL client program (pg_dump, pg_restore), or BackupError saying it is missing."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(glob.glob(BIN_FOLDERS), key=_major, reverse=True):
        candidate = Path(folder) / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(
        f"{name} was not found, on PATH or in {BIN_FOLDERS}: install PostgreSQL's client programs, of the "
        f"server's version or newer (Debian, Ubuntu: apt install postgresql-client), or put {name} on PATH."
    )


def _connection_arguments(url: sa.URL) -> tuple[str, dict[str, str]]:
    """The libpq connection string for the database (without its password) and the environment holding it."""
    environment = dict(os.environ)
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return conninfo, environment


def _run(arguments: list[str], environment: dict[str, str] | None = None) -> str:
    """Run a client program; its standard output, or BackupError with what it wrote on standard error."""
    done = subprocess.run(  # noqa: S603 - a client program found by tool(), with arguments built here
        arguments, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        program = Path(arguments[0]).name
        problem = done.stderr.strip() or done.stdout.strip() or "no message"
        raise BackupError(f"{program} failed (exit status {done.returncode}): {problem}")
    return done.stdout


def dump(url: sa.URL, snapshot: str, target: Path) -> str:
    """pg_dump the database into target, as the exported snapshot sees it; how (the program's version)."""
    program = tool("pg_dump")
    conninfo, environment = _connection_arguments(url)
    _run(
        [
            program,
            "--format=custom",
            f"--snapshot={snapshot}",
            "--no-password",
            f"--file={target}",
            f"--dbname={conninfo}",
        ],
        environment,
    )
    version = _run([program, "--version"]).strip()
    return f"pg_dump --format=custom ({version})"


def verify(path: Path) -> str:
    """pg_restore --list reads the archive's table of contents; what it found, or BackupError."""
    listing = _run([tool("pg_restore"), "--list", str(path)])
    entries = [line for line in listing.splitlines() if line.strip() and not line.startswith(";")]
    data = sum(1 for line in entries if " TABLE DATA " in line)
    if not data:
        raise BackupError(f"pg_restore --list finds no table data in {path}: the dump is not usable.")
    return f"pg_restore --list: {len(entries)} entries, the data of {data} tables"


def restore(path: Path, url: sa.URL) -> None:
    """pg_restore the archive into the database in one transaction: whole, or nothing if anything fails.

    Objects become the restoring account's (--no-owner) and the dump's grants are left out (--no-privileges),
    so that a dump restores into a database made for another account, on another server.
    """
    conninfo, environment = _connection_arguments(url)
    program = tool("pg_restore")
    try:
        _run(
            [
                program,
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--no-password",
                f"--dbname={conninfo}",
                str(path),
            ],
            environment,
        )
    except BackupError as error:
        raise BackupError(f"{error} (in one transaction: nothing of the backup was kept)") from None

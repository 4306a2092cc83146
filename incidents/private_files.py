"""Files the app keeps (its secret key, its SQLite database, caches, uploads): its own account's only.

They hold unpublished findings and the key that signs sessions, so they are made readable by the app's own
account alone: folders 0700, files 0600 (the umask can only take more away). A file that exists already is
the operator's: one that other accounts can read is named in a warning at start, never changed behind the
operator's back (a backup account may read it on purpose, through its group).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import sqlalchemy as sa

log = logging.getLogger(__name__)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """The folder; it and any missing folder above it are made 0700 (mkdir's parents=True would give those
    above the umask's mode)."""
    missing = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    return path


def open_private_file(path: Path, flags: int) -> int:
    """os.open with O_CREAT and mode 0600: a file made by it is its owner's only. A file descriptor."""
    return os.open(path, flags | os.O_CREAT, FILE_MODE)


def create_private_file(path: Path) -> bool:
    """Make the file, empty and 0600, unless it exists; whether it was made. Its folder is made 0700."""
    private_folder(path.parent)
    try:
        os.close(open_private_file(path, os.O_WRONLY | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def warn_if_shared(path: Path) -> None:
    """Log a warning naming the file when accounts other than its owner may read or write it."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "%s can be read or written by other accounts on this machine (mode %04o); unless they need it, "
            "make it its owner's only: chmod 600 %s",
            path,
            mode,
            path,
        )


def sqlite_file(database_url: str, instance: Path) -> Path | None:
    """The file of a SQLite database URL (a relative path is in the instance folder, as Flask-SQLAlchemy
    has it); None for any other database, one in memory, or a file: URI."""
    url = sa.make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.query.get("uri"):
        return None
    if not url.database or url.database == ":memory:":
        return None
    return instance / url.database  # an absolute path stays as it is


def prepare_sqlite_file(database_url: str, instance: Path) -> None:
    """Make the SQLite database file 0600 (in a 0700 folder, if missing) before the driver's first connection
    would make it with the umask's mode, commonly 0644: readable by every account. SQLite gives the -wal and
    -shm files it makes beside it the database file's mode."""
    path = sqlite_file(database_url, instance)
    if path is not None and not create_private_file(path):
        warn_if_shared(path)

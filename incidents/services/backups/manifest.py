"""A backup's manifest: the small JSON file beside it (PATH.json) that says what the backup holds.

It records the file's SHA-256 and size, so that a restore refuses a damaged, truncated or swapped file before
touching anything, and what the database held at the moment of the copy, read from the copy's own snapshot:
the schema's Alembic revision, the audit trail's length and head, and the count and checksum of the public
JSON export (the checksum /export.json's header gives), so that a restore can show it gives back the same
data.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from incidents import audit
from incidents.exports.build import public_checksum
from incidents.exports.formats import FORMAT_VERSION
from incidents.exports.stored import LAYOUT
from incidents.private_files import open_private_file

MANIFEST_FORMAT = "incidents-backup"
MANIFEST_VERSION = "1"


class BackupError(Exception):
    """A backup or restore refused or failed; the message says what and what to do."""


@dataclass(frozen=True)
class DatabaseState:
    """What a database holds, as a backup records it and a restore reads it again."""

    alembic_revision: str | None  # None when the schema was not built by the migrations (the tests')
    public_count: int
    public_checksum: str
    audit_entries: int
    audit_head: str
    audit_holds: bool


def alembic_revision(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.scalar(sa.text("SELECT version_num FROM alembic_version"))
    return str(revision) if revision is not None else None


def read_state(connection: sa.Connection) -> DatabaseState:
    """The state of the database connection reads, in the transaction (the snapshot) it is in."""
    count, checksum = public_checksum(connection)
    trail = audit.verify(connection)
    return DatabaseState(
        alembic_revision=alembic_revision(connection),
        public_count=count,
        public_checksum=checksum,
        audit_entries=trail.count,
        audit_head=trail.head_hash,
        audit_holds=trail.ok,
    )


@dataclass(frozen=True)
class Manifest:
    file: str  # the backup's file name, as it was written
    size: int
    sha256: str
    created_at: str  # UTC, ISO 8601
    database: str  # "sqlite" or "postgresql"
    method: str  # how the copy was taken
    verified: str  # what checked the copy, and what it said
    state: DatabaseState
    export_format_version: str = FORMAT_VERSION
    record_layout: str = LAYOUT  # the stored records' format: another one may give another checksum

    def to_json(self) -> dict[str, Any]:
        state = self.state
        return {
            "format": MANIFEST_FORMAT,
            "format_version": MANIFEST_VERSION,
            "file": self.file,
            "size": self.size,
            "sha256": self.sha256,
            "created_at": self.created_at,
            "database": self.database,
            "method": self.method,
            "verified": self.verified,
            "alembic_revision": state.alembic_revision,
            "public_export": {
                "format_version": self.export_format_version,
                "record_layout": self.record_layout,
                "count": state.public_count,
                "checksum": {"algorithm": "sha256", "value": state.public_checksum},
            },
            "audit_trail": {
                "entries": state.audit_entries,
                "head": state.audit_head,
                "holds": state.audit_holds,
            },
        }

    @classmethod
    def from_json(cls, document: Any) -> Manifest:
        """The manifest of a document read from a file; KeyError, TypeError or ValueError if it is not one."""
        if document["format"] != MANIFEST_FORMAT or document["format_version"] != MANIFEST_VERSION:
            raise ValueError(f"not an {MANIFEST_FORMAT} {MANIFEST_VERSION} manifest")
        export = document["public_export"]
        trail = document["audit_trail"]
        state = DatabaseState(
            alembic_revision=_optional_text(document["alembic_revision"]),
            public_count=int(export["count"]),
            public_checksum=str(export["checksum"]["value"]),
            audit_entries=int(trail["entries"]),
            audit_head=str(trail["head"]),
            audit_holds=bool(trail["holds"]),
        )
        return cls(
            file=str(document["file"]),
            size=int(document["size"]),
            sha256=str(document["sha256"]),
            created_at=str(document["created_at"]),
            database=str(document["database"]),
            method=str(document["method"]),
            verified=str(document["verified"]),
            state=state,
            export_format_version=str(export["format_version"]),
            record_layout=str(export["record_layout"]),
        )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def manifest_path(backup: Path) -> Path:
    """Where a backup's manifest is: beside it, its name with .json added."""
    return backup.with_name(backup.name + ".json")


def file_digest(path: Path) -> str:
    """The SHA-256 of the file, in hex."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_manifest(manifest: Manifest, path: Path) -> None:
    """Write the manifest to path, a new file (0600): an existing one is never replaced."""
    text = json.dumps(manifest.to_json(), indent=2, ensure_ascii=False) + "\n"
    try:
        fd = open_private_file(path, os.O_WRONLY | os.O_EXCL)
    except FileExistsError:
        raise BackupError(f"{path} exists already: a backup never replaces a file.") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def read_manifest(path: Path) -> Manifest:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(
            f"No manifest at {path}: without it the backup cannot be checked, and is not restored. "
            "Give the manifest's place with --manifest."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path} cannot be read as a backup manifest: {error}") from None
    try:
        return Manifest.from_json(document)
    except (KeyError, TypeError, ValueError) as error:
        raise BackupError(f"{path} is not a backup manifest of this app ({error!r}).") from None

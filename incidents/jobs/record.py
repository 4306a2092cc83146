"""What an import job is, wherever it is kept (incidents.jobs.files, incidents.jobs.database)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from incidents.importing.report import ImportReport

JOB_LIFETIME = dt.timedelta(days=1)
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")


@dataclass
class Job:
    token: str
    owner_id: int
    filename: str  # as uploaded: shown to the editor, never used as a path
    sha256: str
    size: int
    options: dict[str, Any]
    created_at: str
    stage: str = "dry_run"  # dry_run, then import
    state: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    report: dict[str, Any] | None = None
    message: str = ""
    mapping: dict[str, Any] = field(default_factory=dict)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def import_report(self) -> ImportReport | None:
        return ImportReport.from_dict(self.report) if self.report else None


class Upload:
    """The SHA-256 and size of an upload, counted as it is stored."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self.size += len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

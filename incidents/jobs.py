"""Import jobs for the web page: an upload kept under a random name until the editor confirms it, the dry
run and the import run (in a background thread for large files), and their progress, kept on disk.

Each job is a folder instance/imports/<token>/ with the upload and job.json (owner, options, SHA-256 of the
upload, stage, progress, report). On disk rather than in memory, so that any process of the app can answer
a progress request. The upload is deleted once imported; folders older than JOB_LIFETIME are swept away.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from flask import Flask, current_app

from incidents import private_files
from incidents.audit import Actor, Channel
from incidents.extensions import db
from incidents.importing.mapping import ColumnMapping
from incidents.importing.report import ImportReport
from incidents.models import User
from incidents.services.imports.pipeline import ImportOptions, import_file

JOB_LIFETIME = dt.timedelta(days=1)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
_PROGRESS_INTERVAL = 0.5  # seconds between writes of job.json while a job runs
_threads: dict[str, threading.Thread] = {}


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


def jobs_folder() -> Path:
    """IMPORT_FOLDER, or instance/imports."""
    return Path(current_app.config.get("IMPORT_FOLDER") or Path(current_app.instance_path) / "imports")


def _folder(token: str) -> Path:
    if not _TOKEN.match(token):
        raise KeyError(token)
    return jobs_folder() / token


def create_job(
    stream: IO[bytes], *, filename: str, owner_id: int, options: dict[str, Any], mapping: ColumnMapping
) -> Job:
    """Store an upload under a random name (streamed to disk, hashed on the way) and describe its job."""
    _sweep()
    token = secrets.token_urlsafe(24)
    folder = private_files.private_folder(jobs_folder()) / token
    folder.mkdir(mode=private_files.FOLDER_MODE)
    digest = hashlib.sha256()
    size = 0
    descriptor = private_files.open_private_file(folder / "upload", os.O_WRONLY | os.O_EXCL)
    with os.fdopen(descriptor, "wb") as target:
        while chunk := stream.read(1024 * 1024):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    job = Job(
        token=token,
        owner_id=owner_id,
        filename=filename[:200],
        sha256=digest.hexdigest(),
        size=size,
        options=options,
        created_at=dt.datetime.now(dt.UTC).isoformat(),
        mapping=asdict(mapping),
    )
    save(job)
    return job


def load(token: str) -> Job:
    """The job of this token; KeyError when there is none. A job queued or running that no process runs any
    more (its server process restarted or died) is saved as failed, saying so, instead of running forever."""
    job = _read(token)
    if job.finished:
        return job
    try:
        descriptor = os.open(_folder(token) / "running.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return job  # cannot tell: left as it is
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return job  # its process runs it
        # Nobody runs it, or its run ended between the read above and the lock: a run saves its outcome
        # before it lets go of the lock, so the job read again, under the lock, tells which.
        job = _read(token)
        if not job.finished:
            job.state, job.message = "failed", _STOPPED[job.stage]
            save(job)
        return job
    finally:
        os.close(descriptor)


def _read(token: str) -> Job:
    try:
        data = json.loads((_folder(token) / "job.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise KeyError(token) from None
    return Job(**data)


_STOPPED = {
    "dry_run": "The check of this file stopped when the server process running it did (a restart or a "
    "crash). Upload the file again.",
    "import": "The import stopped when the server process running it did (a restart or a crash). An import "
    "is one transaction: unfinished, it imported nothing. Upload the file again and import it: rows "
    "imported already are recognised and not imported twice.",
}


def hold_run(token: str) -> int:
    """Take the job's run lock, held for as long as its dry run or import runs (released by closing the
    descriptor returned, or by the process ending): a job queued or running whose lock nobody holds has
    lost its process. flock, between every process of the app."""
    descriptor = os.open(_folder(token) / "running.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
    except BaseException:
        os.close(descriptor)
        raise
    return descriptor


def save(job: Job) -> None:
    folder = _folder(job.token)
    # A temporary file of its own for each writer (the run, and any reader saving a stopped job), renamed
    # over job.json: readers never see half a file.
    descriptor, temporary = tempfile.mkstemp(dir=folder, prefix="job.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(job)))
        os.replace(temporary, folder / "job.json")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def locked(token: str) -> Iterator[None]:
    """Hold the job's lock until the block ends; KeyError when there is no such job.

    For a change of stage that must happen once: the import page reads the job, checks it and saves its new
    stage under this lock, so that a second confirmation (a double click, another tab, another process of
    the app) reads the stage the first one saved instead of starting a second import of the same rows.
    flock on the job's folder: shared by every process of the app, and released if the holder dies.
    """
    try:
        folder = os.open(_folder(token), os.O_RDONLY)
    except OSError:
        raise KeyError(token) from None
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        yield
    finally:
        os.close(folder)  # and with it the lock


def upload_path(job: Job) -> Path:
    return _folder(job.token) / "upload"


def upload_digest(job: Job) -> str | None:
    """The SHA-256 of the stored upload as it is now; None when it is gone."""
    path = upload_path(job)
    if not path.exists():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def start(job: Job, stage: str, *, background: bool, lock: int | None = None) -> None:
    """Run the job's dry run or import, in a thread (background) or now; lock: its run lock, when the caller
    took it already (hold_run), which the run then releases."""
    # The run lock first: from "queued" on, a reader of the job finds it held.
    if lock is None:
        lock = hold_run(job.token)
    handed = False  # to the run, which releases it
    try:
        job.stage, job.state, job.done, job.total, job.report, job.message = stage, "queued", 0, 0, None, ""
        save(job)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        if not background:
            handed = True
            _run(app, job.token, lock)
            return
        thread = threading.Thread(
            target=_run, args=(app, job.token, lock), name=f"import-{job.token[:8]}", daemon=True
        )
        _threads[job.token] = thread
        thread.start()
        handed = True
    finally:
        if not handed:
            os.close(lock)


def wait(token: str, timeout: float = 60.0) -> None:
    """Wait for a background job of this process to end (tests, and a clean shutdown)."""
    thread = _threads.get(token)
    if thread is not None:
        thread.join(timeout)


def _run(app: Flask, token: str, lock: int) -> None:
    """Run the job (the run lock held: released at the end, once the job's outcome is saved)."""
    try:
        _run_locked(app, token)
    finally:
        os.close(lock)


def _run_locked(app: Flask, token: str) -> None:
    with app.app_context():
        job = load(token)
        job.state = "running"
        save(job)
        options = ImportOptions(
            format=job.options["format"],
            dry_run=job.stage == "dry_run",
            publish=bool(job.options.get("publish")),
            submit=bool(job.options.get("submit")),
            skip_invalid=bool(job.options.get("skip_invalid")),
            mapping=ColumnMapping(**job.mapping),
            # A job saved before file_name was kept has the typed name or the file's in dataset, which the
            # mapping file's name did not override then: as file_name it comes after the mapping's again.
            dataset=job.options["dataset"] if "file_name" in job.options else "",
            file_name=job.options.get("file_name", job.options["dataset"]),
            actor=Actor(db.session.get(User, job.owner_id), Channel.IMPORT),
        )
        try:
            from incidents.geocoding import current_geocoder

            report = import_file(
                upload_path(job), options, geocoder=current_geocoder(), progress=_progress_saver(job)
            )
        except Exception:
            app.logger.exception("import job %s failed", token)
            job.state, job.message = "failed", "The import failed unexpectedly: nothing was imported."
            save(job)
            return
        job.report = report.to_dict()
        job.state = "done"
        if report.committed:
            upload_path(job).unlink(missing_ok=True)  # imported: the upload is kept no longer than needed
        save(job)


def _progress_saver(job: Job) -> Callable[[int, int], None]:
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        job.done, job.total = done, total
        if time.monotonic() - last >= _PROGRESS_INTERVAL:
            last = time.monotonic()
            save(job)

    return progress


def _sweep() -> None:
    """Remove job folders older than JOB_LIFETIME, with the uploads they may still hold."""
    folder = jobs_folder()
    if not folder.exists():
        return
    cutoff = time.time() - JOB_LIFETIME.total_seconds()
    for path in folder.iterdir():
        if _TOKEN.match(path.name) and path.stat().st_mtime < cutoff:
            shutil.rmtree(path, ignore_errors=True)

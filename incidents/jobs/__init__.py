"""Import jobs for the web page: an upload kept under a random name until the editor confirms it, the dry
run and the import run (in the background for large files), and their progress.

Where jobs are kept and who runs them is JOB_QUEUE:
- `thread` (the default on SQLite: one machine): each job a folder IMPORT_FOLDER/<token>/ with the upload and
  job.json, on disk so that any process of the app on the machine can answer a progress request; a
  background run is a thread of the web process that took the request (jobs.files);
- `procrastinate` (the default on PostgreSQL: several instances, several machines): the job and its upload
  in the database, which every instance reads; a background run is queued, and taken by a worker process
  (`flask --app incidents worker`) on any machine (jobs.database, jobs.queue).

Either way a run holds the job's run lock for as long as it runs, and the lock dies with its holder (flock,
or a PostgreSQL advisory lock): a job queued or running whose lock nobody holds has lost its process, and is
shown failed, not running forever. An import is one transaction: a run that dies imports nothing. The upload
is deleted once imported; jobs older than JOB_LIFETIME are swept away.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any, Protocol

from flask import Flask, current_app

from incidents.audit import Actor, Channel
from incidents.extensions import db
from incidents.importing.mapping import ColumnMapping
from incidents.jobs import queue
from incidents.jobs.database import DatabaseStore
from incidents.jobs.files import FileStore
from incidents.jobs.record import JOB_LIFETIME, Job, Upload
from incidents.models import User
from incidents.services.imports.pipeline import ImportOptions, import_file

__all__ = ["JOB_LIFETIME", "Job", "create_job", "load", "save", "locked", "hold_run", "start", "wait"]

QUEUES = ("thread", "procrastinate")
_PROGRESS_INTERVAL = 0.5  # seconds between writes of the job while it runs
_threads: dict[str, threading.Thread] = {}


class RunLock(Protocol):
    def release(self) -> None: ...


class Store(Protocol):
    def create(self, job: Job, stream: IO[bytes]) -> Upload: ...
    def read(self, token: str) -> Job: ...
    def write(self, job: Job) -> None: ...
    def locked(self, token: str) -> contextlib.AbstractContextManager[None]: ...
    def hold_run(self, token: str) -> RunLock: ...
    def run_free(self, token: str) -> contextlib.AbstractContextManager[bool | None]: ...
    def upload(self, job: Job) -> contextlib.AbstractContextManager[Path | None]: ...
    def drop_upload(self, job: Job) -> None: ...
    def sweep(self) -> None: ...


def queued_elsewhere() -> bool:
    """Whether background runs are queued for a worker process (JOB_QUEUE = procrastinate), not threads."""
    return bool(current_app.config["JOB_QUEUE"] == "procrastinate")


def _store() -> Store:
    return DatabaseStore() if queued_elsewhere() else FileStore()


def create_job(
    stream: IO[bytes], *, filename: str, owner_id: int, options: dict[str, Any], mapping: ColumnMapping
) -> Job:
    """Store an upload under a random name (streamed, hashed on the way) and describe its job."""
    store = _store()
    store.sweep()
    job = Job(
        token=secrets.token_urlsafe(24),
        owner_id=owner_id,
        filename=filename[:200],
        sha256="",
        size=0,
        options=options,
        created_at=dt.datetime.now(dt.UTC).isoformat(),
        mapping=asdict(mapping),
    )
    upload = store.create(job, stream)
    job.sha256, job.size = upload.sha256, upload.size
    store.write(job)
    return job


def load(token: str) -> Job:
    """The job of this token; KeyError when there is none. A job running (or, in-process, queued) that no
    process runs any more (its process restarted or died) is saved as failed, saying so, instead of running
    forever. A job queued for a worker waits for one."""
    job = _read(token)
    if job.finished or (job.state == "queued" and queued_elsewhere()):
        return job
    store = _store()
    with store.run_free(token) as free:
        if not free:
            return job  # its process runs it, or cannot tell: left as it is
        # Nobody runs it, or its run ended between the read above and the lock: a run saves its outcome
        # before it lets go of the lock, so the job read again, under the lock, tells which.
        job = _read(token)
        if not job.finished and not (job.state == "queued" and queued_elsewhere()):
            job.state, job.message = "failed", _STOPPED[job.stage]
            save(job)
        return job


def _read(token: str) -> Job:
    return _store().read(token)


_STOPPED = {
    "dry_run": "The check of this file stopped when the process running it did (a restart or a crash). "
    "Upload the file again.",
    "import": "The import stopped when the process running it did (a restart or a crash). An import is one "
    "transaction: unfinished, it imported nothing. Upload the file again and import it: rows imported "
    "already are recognised and not imported twice.",
}


def hold_run(token: str) -> RunLock:
    """Take the job's run lock, held for as long as its dry run or import runs (released by release(), or by
    the process ending): a job running whose lock nobody holds has lost its process."""
    return _store().hold_run(token)


def save(job: Job) -> None:
    _store().write(job)


def locked(token: str) -> contextlib.AbstractContextManager[None]:
    """Hold the job's lock until the block ends; KeyError when there is no such job.

    For a change of stage that must happen once: the import page reads the job, checks it and saves its new
    stage under this lock, so that a second confirmation (a double click, another tab, another process or
    instance of the app) reads the stage the first one saved instead of starting a second import of the same
    rows. Shared by every process of the app, and released if the holder dies.
    """
    return _store().locked(token)


def upload_digest(job: Job) -> str | None:
    """The SHA-256 of the stored upload as it is now; None when it is gone."""
    with _store().upload(job) as path:
        if path is None:
            return None
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()


def start(job: Job, stage: str, *, background: bool, lock: RunLock | None = None) -> None:
    """Run the job's dry run or import: now, or in the background (a thread of this process, or queued for a
    worker); lock: its run lock, when the caller took it already (hold_run), which the run then releases (a
    run queued for a worker takes its own: this one is released once the job is queued)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if background and queued_elsewhere():
        job.stage, job.state, job.done, job.total, job.report, job.message = stage, "queued", 0, 0, None, ""
        try:
            save(job)
            queue.defer(app, job.token)
        finally:
            if lock is not None:
                lock.release()
        return
    # The run lock first: from "queued" on, a reader of the job finds it held.
    if lock is None:
        lock = hold_run(job.token)
    handed = False  # to the run, which releases it
    try:
        job.stage, job.state, job.done, job.total, job.report, job.message = stage, "queued", 0, 0, None, ""
        save(job)
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
            lock.release()


def wait(token: str, timeout: float = 60.0) -> None:
    """Wait for a background job of this process to end (tests, and a clean shutdown)."""
    thread = _threads.get(token)
    if thread is not None:
        thread.join(timeout)


def run_queued(app: Flask, token: str) -> None:
    """A worker's run of a job taken from the queue: under its run lock, unless it ended already (a job
    shown failed, say, when a worker died and the task was given again)."""
    with app.app_context():
        lock = hold_run(token)
        try:
            job = _read(token)
            if job.state != "queued":
                app.logger.warning("import job %s is %s, not queued: not run again", token, job.state)
                return
        except BaseException:
            lock.release()
            raise
        _run(app, token, lock)


def work(app: Flask, *, concurrency: int = 1, wait: bool = True) -> None:
    """Be a worker: run the jobs queued (JOB_QUEUE = procrastinate), until stopped or (wait false) none is
    left."""
    queue.run_worker(app, run_queued, concurrency=concurrency, wait=wait)


def _run(app: Flask, token: str, lock: RunLock) -> None:
    """Run the job (the run lock held: released at the end, once the job's outcome is saved)."""
    try:
        _run_locked(app, token)
    finally:
        lock.release()


def _run_locked(app: Flask, token: str) -> None:
    with app.app_context():
        job = _read(token)
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
        store = _store()
        try:
            from incidents.geocoding import current_geocoder

            with store.upload(job) as path:
                if path is None:
                    raise FileNotFoundError(f"the upload of job {token} is gone")
                progress = _progress_saver(job)
                report = import_file(path, options, geocoder=current_geocoder(), progress=progress)
        except Exception:
            app.logger.exception("import job %s failed", token)
            job.state, job.message = "failed", "The import failed unexpectedly: nothing was imported."
            save(job)
            return
        job.report = report.to_dict()
        job.state = "done"
        if report.committed:
            store.drop_upload(job)  # imported: the upload is kept no longer than needed
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

"""Jobs kept on the local disk (JOB_QUEUE = thread): a folder IMPORT_FOLDER/<token>/ with the upload and
job.json, and flock locks that every process of the app on this machine shares and that a dying process lets
go of. One machine only: flock does not hold on NFS."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO

from flask import current_app

from incidents import private_files
from incidents.jobs.record import JOB_LIFETIME, TOKEN, Job, Upload


def jobs_folder() -> Path:
    """IMPORT_FOLDER, or instance/imports."""
    return Path(current_app.config.get("IMPORT_FOLDER") or Path(current_app.instance_path) / "imports")


def _folder(token: str) -> Path:
    if not TOKEN.match(token):
        raise KeyError(token)
    return jobs_folder() / token


class FileRunLock:
    """A job's run lock: an exclusive flock on running.lock, released by release() or the process's end."""

    def __init__(self, descriptor: int) -> None:
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


class FileStore:
    def create(self, job: Job, stream: IO[bytes]) -> Upload:
        folder = private_files.private_folder(jobs_folder()) / job.token
        folder.mkdir(mode=private_files.FOLDER_MODE)
        descriptor = private_files.open_private_file(folder / "upload", os.O_WRONLY | os.O_EXCL)
        upload = Upload()
        with os.fdopen(descriptor, "wb") as target:
            while chunk := stream.read(1024 * 1024):
                upload.add(chunk)
                target.write(chunk)
        return upload

    def read(self, token: str) -> Job:
        try:
            data = json.loads((_folder(token) / "job.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise KeyError(token) from None
        return Job(**data)

    def write(self, job: Job) -> None:
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
    def locked(self, token: str) -> Iterator[None]:
        """flock on the job's folder: shared by every process of the app, and released if the holder dies."""
        try:
            folder = os.open(_folder(token), os.O_RDONLY)
        except OSError:
            raise KeyError(token) from None
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            yield
        finally:
            os.close(folder)  # and with it the lock

    def hold_run(self, token: str) -> FileRunLock:
        descriptor = os.open(_folder(token) / "running.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            os.close(descriptor)
            raise
        return FileRunLock(descriptor)

    @contextlib.contextmanager
    def run_free(self, token: str) -> Iterator[bool | None]:
        """Whether no process holds the job's run lock (None: cannot tell), kept so for the block."""
        try:
            descriptor = os.open(_folder(token) / "running.lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            yield None
            return
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(descriptor)

    @contextlib.contextmanager
    def upload(self, job: Job) -> Iterator[Path | None]:
        path = _folder(job.token) / "upload"
        yield path if path.exists() else None

    def drop_upload(self, job: Job) -> None:
        (_folder(job.token) / "upload").unlink(missing_ok=True)

    def sweep(self) -> None:
        """Remove job folders older than JOB_LIFETIME, with the uploads they may still hold."""
        folder = jobs_folder()
        if not folder.exists():
            return
        cutoff = time.time() - JOB_LIFETIME.total_seconds()
        for path in folder.iterdir():
            if TOKEN.match(path.name) and path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)

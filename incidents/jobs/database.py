"""Jobs kept in PostgreSQL (JOB_QUEUE = procrastinate): the job and its upload in tables (import_jobs,
import_uploads), so that every instance of the app, on any machine, shows and follows the same jobs and a
worker anywhere reads the upload.

The locks are PostgreSQL advisory locks, held by a connection of their own: shared by every instance, and
released by the server when the holder's connection ends, a killed process's included (as flock is for the
file store). Job writes are short transactions of their own, outside the import's: on PostgreSQL they wait for
no one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import IO, cast

import sqlalchemy as sa

from incidents.extensions import db
from incidents.jobs.record import JOB_LIFETIME, TOKEN, Job, Upload
from incidents.models import ImportJob, ImportUpload
from incidents.models.columns import utcnow

JOBS = cast(sa.Table, ImportJob.__table__)
UPLOADS = cast(sa.Table, ImportUpload.__table__)
PIECE = 1024 * 1024  # bytes of an upload per row
# The first key of the two-key advisory locks: one for a job's change of stage, one for its run. The second
# key is hashtext(token): two tokens that hash alike only share a lock, which costs a wait, nothing more.
_STAGE_LOCK = 0x1A01
_RUN_LOCK = 0x1A02


def _known(token: str) -> None:
    if not TOKEN.match(token):
        raise KeyError(token)


class AdvisoryRunLock:
    """A job's run lock: a session advisory lock on a connection of its own, released by release() or, if the
    process dies, by the server when the connection ends."""

    def __init__(self, connection: sa.Connection, token: str) -> None:
        self._connection: sa.Connection | None = connection
        self._token = token

    def release(self) -> None:
        if self._connection is None:
            return
        connection, self._connection = self._connection, None
        try:
            connection.execute(
                sa.text("SELECT pg_advisory_unlock(:kind, hashtext(:token))"),
                {"kind": _RUN_LOCK, "token": self._token},
            )
            connection.commit()
        finally:
            connection.close()


class DatabaseStore:
    def create(self, job: Job, stream: IO[bytes]) -> Upload:
        upload = Upload()
        with db.engine.begin() as connection:
            connection.execute(
                JOBS.insert().values(
                    token=job.token, owner_id=job.owner_id, created_at=utcnow(), document=_document(job)
                )
            )
            seq = 0
            while chunk := stream.read(PIECE):
                upload.add(chunk)
                connection.execute(UPLOADS.insert().values(token=job.token, seq=seq, data=chunk))
                seq += 1
        return upload

    def read(self, token: str) -> Job:
        _known(token)
        with db.engine.connect() as connection:
            document = connection.scalar(sa.select(JOBS.c.document).where(JOBS.c.token == token))
        if document is None:
            raise KeyError(token)
        return Job(**json.loads(document))

    def write(self, job: Job) -> None:
        with db.engine.begin() as connection:
            connection.execute(JOBS.update().where(JOBS.c.token == job.token).values(document=_document(job)))

    @contextlib.contextmanager
    def locked(self, token: str) -> Iterator[None]:
        self.read(token)  # KeyError when there is no such job
        with db.engine.connect() as connection:
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:kind, hashtext(:token))"),
                {"kind": _STAGE_LOCK, "token": token},
            )
            try:
                yield
            finally:
                connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:kind, hashtext(:token))"),
                    {"kind": _STAGE_LOCK, "token": token},
                )
                connection.commit()

    def hold_run(self, token: str) -> AdvisoryRunLock:
        _known(token)
        connection = db.engine.connect()
        try:
            connection.execute(
                sa.text("SELECT pg_advisory_lock(:kind, hashtext(:token))"),
                {"kind": _RUN_LOCK, "token": token},
            )
            connection.commit()  # the lock is the session's: it outlives the transaction
        except BaseException:
            connection.close()
            raise
        return AdvisoryRunLock(connection, token)

    @contextlib.contextmanager
    def run_free(self, token: str) -> Iterator[bool | None]:
        _known(token)
        with db.engine.connect() as connection:
            free = connection.scalar(
                sa.text("SELECT pg_try_advisory_lock_shared(:kind, hashtext(:token))"),
                {"kind": _RUN_LOCK, "token": token},
            )
            connection.commit()
            try:
                yield bool(free)
            finally:
                if free:
                    connection.execute(
                        sa.text("SELECT pg_advisory_unlock_shared(:kind, hashtext(:token))"),
                        {"kind": _RUN_LOCK, "token": token},
                    )
                    connection.commit()

    @contextlib.contextmanager
    def upload(self, job: Job) -> Iterator[Path | None]:
        """The upload written out to a temporary file for the import to read (mkstemp: the owner's only),
        removed after."""
        with db.engine.connect() as connection:
            if not connection.scalar(sa.select(sa.exists().where(UPLOADS.c.token == job.token))):
                yield None
                return
            descriptor, name = tempfile.mkstemp(prefix="incidents-import-")
            try:
                with os.fdopen(descriptor, "wb") as target:
                    pieces = connection.execution_options(stream_results=True, yield_per=4).execute(
                        sa.select(UPLOADS.c.data).where(UPLOADS.c.token == job.token).order_by(UPLOADS.c.seq)
                    )
                    for (piece,) in pieces:
                        target.write(piece)
                connection.rollback()
                yield Path(name)
            finally:
                Path(name).unlink(missing_ok=True)

    def drop_upload(self, job: Job) -> None:
        with db.engine.begin() as connection:
            connection.execute(UPLOADS.delete().where(UPLOADS.c.token == job.token))

    def sweep(self) -> None:
        cutoff = dt.datetime.now(dt.UTC) - JOB_LIFETIME
        with db.engine.begin() as connection:
            old = sa.select(JOBS.c.token).where(JOBS.c.created_at < cutoff)
            connection.execute(UPLOADS.delete().where(UPLOADS.c.token.in_(old)))
            connection.execute(JOBS.delete().where(JOBS.c.created_at < cutoff))


def _document(job: Job) -> str:
    return json.dumps(asdict(job))

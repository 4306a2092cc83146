from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base
from incidents.models.columns import Timestamp, utcnow


class ImportJob(Base):
    """An import page's job kept in the database (JOB_QUEUE = procrastinate: PostgreSQL shared by several
    instances), so that any instance can show and follow it: the job as JSON (incidents.jobs.Job)."""

    __tablename__ = "import_jobs"

    token: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, index=True)
    document: Mapped[str] = mapped_column(sa.Text)


class ImportUpload(Base):
    """The uploaded file of an import job kept in the database, in pieces of at most a MiB: a worker on
    another machine reads it from there."""

    __tablename__ = "import_uploads"

    token: Mapped[str] = mapped_column(
        sa.ForeignKey("import_jobs.token", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(sa.LargeBinary)

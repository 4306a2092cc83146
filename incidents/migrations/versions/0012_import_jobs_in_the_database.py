"""import jobs in the database, and procrastinate's queue

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 22:30:00

With JOB_QUEUE = procrastinate (the default on PostgreSQL), the import page's jobs and their uploads are kept
in the database (import_jobs, import_uploads), which every instance reads, and their runs are queued in
procrastinate's tables, in a schema of their own (procrastinate), for workers on any machine. On SQLite only
the two tables are made (jobs stay on local disk there, JOB_QUEUE = thread).

procrastinate's schema is the one of the version installed when this migration runs (pyproject pins the minor
version): a later release of procrastinate comes with a migration of ours applying its own migration files.
"""

import sqlalchemy as sa
from alembic import op

from incidents.jobs import queue

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_import_jobs_owner_id_users")),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_import_jobs")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_jobs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_import_jobs_owner_id"), ["owner_id"], unique=False)
    op.create_table(
        "import_uploads",
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["token"],
            ["import_jobs.token"],
            name=op.f("fk_import_uploads_token_import_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token", "seq", name=op.f("pk_import_uploads")),
    )
    if op.get_bind().dialect.name == "postgresql":
        queue.create_schema(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {queue.SCHEMA} CASCADE")
    op.drop_table("import_uploads")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_owner_id"))
        batch_op.drop_index(batch_op.f("ix_import_jobs_created_at"))
    op.drop_table("import_jobs")

"""review before publication, the audit trail, expiring tokens

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:00:00

Incidents may be "in review" and accounts "reviewer" (the values their CHECK constraints allow grow). The
audit trail is a hash chain (audit_entries) with its head (audit_head). API tokens expire: tokens made before
this revision get the default lifetime (90 days) from now, not from when they were made, so that none stops
working the moment the upgrade runs.
"""

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STATUSES_BEFORE = ("draft", "published", "retracted")
STATUSES = ("draft", "in_review", "published", "retracted")
ROLES_BEFORE = ("admin", "editor")
ROLES = ("admin", "reviewer", "editor")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _allow(table: str, column: str, name: str, before: tuple[str, ...], after: tuple[str, ...]) -> None:
    """Let the column take the values `after` (its CHECK constraint, named by the naming convention)."""
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a constraint: the table is copied with the column's new type and constraint.
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, existing_type=_enum(name, before), type_=_enum(name, after))
        return
    constraint = f"ck_{table}_{name}"
    op.drop_constraint(op.f(constraint), table, type_="check")
    op.create_check_constraint(op.f(constraint), table, sa.column(column).in_(after))


def upgrade() -> None:
    _allow("incidents", "status", "publicationstatus", STATUSES_BEFORE, STATUSES)
    _allow("map_cells", "status", "publicationstatus", STATUSES_BEFORE, STATUSES)
    _allow("users", "role", "role", ROLES_BEFORE, ROLES)

    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    grace = dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
    op.get_bind().execute(sa.text("UPDATE api_tokens SET expires_at = :at"), {"at": grace})
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.alter_column("expires_at", existing_type=sa.DateTime(timezone=True), nullable=False)

    op.create_table(
        "audit_entries",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("operation", sa.String(length=60), nullable=False),
        sa.Column("target_type", sa.String(length=30), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_audit_entries_user_id_users")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entries")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_audit_entries_entry_hash")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_target", ["target_type", "target_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_entries_user_id"), ["user_id"], unique=False)
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )


def downgrade() -> None:
    # Before this revision no incident was in review and no account a reviewer: refused rather than changed.
    bind = op.get_bind()
    in_review = bind.scalar(sa.text("SELECT count(*) FROM incidents WHERE status = 'in_review'"))
    reviewers = bind.scalar(sa.text("SELECT count(*) FROM users WHERE role = 'reviewer'"))
    if in_review or reviewers:
        raise RuntimeError(
            f"{in_review} incident(s) in review and {reviewers} reviewer account(s): revision 0008 has no "
            "such status or role. Send the incidents back to draft (or publish them) and change those "
            "accounts' role first if you must downgrade."
        )
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_user_id"))
        batch_op.drop_index("ix_audit_entries_target")
    op.drop_table("audit_entries")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    _allow("users", "role", "role", ROLES, ROLES_BEFORE)
    bind.execute(sa.text("DELETE FROM map_cells WHERE status = 'in_review'"))  # emptied cells only, by then
    _allow("map_cells", "status", "publicationstatus", STATUSES, STATUSES_BEFORE)
    _allow("incidents", "status", "publicationstatus", STATUSES, STATUSES_BEFORE)

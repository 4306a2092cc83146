"""imports: the digest of the record an incident was imported from

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 19:20:00

A re-import tells a record it has seen (same id, same content: nothing new) from another version of it
(same id, other content: reported, not updated). Incidents imported before this revision have no digest and
are taken as seen.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("external_digest")

"""stored public records of incidents, streamed by the JSON export

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 14:40:00

The table starts empty: exports build the records they do not find (slower, never wrong) until
`flask --app incidents records --rebuild` has written them all; every save writes its incident's record.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incident_records",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("layout", sa.String(length=32), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_records_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_records")),
    )


def downgrade() -> None:
    op.drop_table("incident_records")

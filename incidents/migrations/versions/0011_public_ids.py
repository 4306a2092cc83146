"""incidents' public ids

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 19:10:00

Every incident gets a random public id (incidents.public_ids), which URLs, exports and the API use from now on
instead of the sequential id. The incidents that exist now had numbered URLs, which may have been cited:
numbered_url marks them, and /incidents/<number> still leads to them by redirect once published. Stored
records are rebuilt by the record layout's new version (`flask --app incidents records --rebuild`).
"""

import sqlalchemy as sa
from alembic import op

from incidents.public_ids import new_public_id

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_BATCH = 10_000


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_id", sa.String(length=12), nullable=True))
        batch_op.add_column(
            sa.Column("numbered_url", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    connection = op.get_bind()
    incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("public_id", sa.String))
    ids = list(connection.scalars(sa.select(incidents.c.id).order_by(incidents.c.id)))
    drawn: set[str] = set()
    update = (
        incidents.update()
        .where(incidents.c.id == sa.bindparam("key"))
        .values(public_id=sa.bindparam("new_public_id"))
    )
    for start in range(0, len(ids), _BATCH):
        rows = []
        for key in ids[start : start + _BATCH]:
            public_id = new_public_id()
            while public_id in drawn:
                public_id = new_public_id()
            drawn.add(public_id)
            rows.append({"key": key, "new_public_id": public_id})
        connection.execute(update, rows)
    op.execute("UPDATE incidents SET numbered_url = true")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("public_id", existing_type=sa.String(length=12), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_incidents_public_id"), ["public_id"])


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_incidents_public_id"), type_="unique")
        batch_op.drop_column("numbered_url")
        batch_op.drop_column("public_id")

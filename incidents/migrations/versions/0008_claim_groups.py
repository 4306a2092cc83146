"""casualty claims: the side or group a figure counts

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 21:40:00

A claim may break a source's figure down by the side or group the people belonged to (UCDP's deaths of side
A, side B, civilians and unknown). Existing claims are figures for the whole category: an empty group, and
the incidents' derived ranges stay as they are.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("casualty_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group", sa.String(length=200), nullable=False, server_default=""))


def downgrade() -> None:
    # Before this revision every claim counted the whole category: a claim per group would silently become
    # one, and the incidents' ranges would change meaning. Refused rather than done wrong.
    grouped = op.get_bind().scalar(sa.text("SELECT count(*) FROM casualty_claims WHERE \"group\" <> ''"))
    if grouped:
        raise RuntimeError(
            f"{grouped} casualty claim(s) count a group (such as UCDP's deaths per side); revision 0007 "
            "cannot hold them. Delete those claims first if you must downgrade."
        )
    with op.batch_alter_table("casualty_claims", schema=None) as batch_op:
        batch_op.drop_column("group")

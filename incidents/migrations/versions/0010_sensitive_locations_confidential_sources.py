"""sensitive locations, location rules, confidential sources

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00

Incidents may be marked location-sensitive (with a reason) and carry the location the public sees
(public_*, derived.public_locations): until a mark or a rule exists it is the recorded one, copied here.
location_rules holds the admins' standing rules. Sources may be confidential: existing witness testimony
becomes confidential, as new testimony is by default (the safe side: an admin can make one public again).
The map's covering index moves to the public coordinates. Stored records are rebuilt by the record layout's
new version (`flask --app incidents records --rebuild`).
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PRECISIONS = ("exact", "near", "admin2", "admin1", "country")
KINDS = ("source", "incident_type", "region")
ONE_TARGET = (
    "(kind = 'source' AND source_id IS NOT NULL AND incident_type_id IS NULL AND admin1 = '')"
    " OR (kind = 'incident_type' AND incident_type_id IS NOT NULL AND source_id IS NULL"
    " AND admin1 = '')"
    " OR (kind = 'region' AND admin1 <> '' AND country <> '' AND source_id IS NULL"
    " AND incident_type_id IS NULL)"
)
MAP_COLUMNS_AFTER = (
    "start_date",
    "end_date",
    "killed_low",
    "killed_high",
    "injured_low",
    "injured_high",
    "detained_low",
    "detained_high",
)


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("location_sensitive", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("location_sensitive_reason", sa.String(length=500), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("public_latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("public_longitude", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("public_place_name", sa.String(length=200), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "public_location_precision", _enum("public_locationprecision", PRECISIONS), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("location_coarsened", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint(
            "sensitive_has_reason", "NOT location_sensitive OR location_sensitive_reason <> ''"
        )
        batch_op.drop_index("ix_incidents_map")
    op.execute(
        "UPDATE incidents SET public_latitude = latitude, public_longitude = longitude, "
        "public_place_name = place_name, public_location_precision = location_precision"
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incidents_map", ["status", "public_latitude", "public_longitude", *MAP_COLUMNS_AFTER]
        )

    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("confidential", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE sources SET confidential = true WHERE kind = 'witness_testimony'")

    op.create_table(
        "location_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", _enum("locationrulekind", KINDS), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("incident_type_id", sa.Integer(), nullable=True),
        sa.Column("country", sa.String(length=2), server_default="", nullable=False),
        sa.Column("admin1", sa.String(length=120), server_default="", nullable=False),
        sa.Column("grid_degrees", sa.Float(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(ONE_TARGET, name=op.f("ck_location_rules_one_target")),
        sa.CheckConstraint(
            "grid_degrees IS NULL OR (grid_degrees > 0 AND grid_degrees <= 10)",
            name=op.f("ck_location_rules_grid"),
        ),
        sa.CheckConstraint("reason <> ''", name=op.f("ck_location_rules_has_reason")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_location_rules_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["incident_type_id"],
            ["incident_types.id"],
            name=op.f("fk_location_rules_incident_type_id_incident_types"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_location_rules_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_rules")),
    )
    with op.batch_alter_table("location_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_location_rules_source_id"), ["source_id"], unique=False)


def downgrade() -> None:
    op.drop_table("location_rules")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("confidential")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_map")
        # SQLite rebuilds the table with the CHECK constraints it reflects: drop them with their columns.
        batch_op.drop_constraint(batch_op.f("ck_incidents_sensitive_has_reason"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_incidents_public_locationprecision"), type_="check")
        for column in (
            "location_coarsened",
            "public_location_precision",
            "public_place_name",
            "public_longitude",
            "public_latitude",
            "location_sensitive_reason",
            "location_sensitive",
        ):
            batch_op.drop_column(column)
        batch_op.create_index("ix_incidents_map", ["status", "latitude", "longitude", *MAP_COLUMNS_AFTER])

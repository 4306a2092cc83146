"""Writing derived columns of incidents back to their rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from incidents.models import Incident

INCIDENTS = cast(sa.Table, Incident.__table__)


def write_columns(
    connection: sa.Connection, names: Sequence[str], values: Mapping[int, Mapping[str, Any]]
) -> None:
    """Set these columns of these incidents (id → column → value), in one executemany."""
    if not values:
        return
    connection.execute(
        sa.update(INCIDENTS)
        .where(INCIDENTS.c.id == sa.bindparam("b_id"))
        # Bound as b_<column>: SQLAlchemy keeps a column's own name for the values it fills in itself.
        .values({name: sa.bindparam(f"b_{name}") for name in names})
        # Derived data is no edit: the column's onupdate must not move the incident's updated_at.
        .values(updated_at=INCIDENTS.c.updated_at),
        [{"b_id": i, **{f"b_{name}": row[name] for name in names}} for i, row in values.items()],
    )

"""Column types shared by the models."""

from __future__ import annotations

import datetime as dt
import enum

import sqlalchemy as sa


def enum_column_type(enum_class: type[enum.StrEnum], length: int = 32, name: str = "") -> sa.Enum:
    """Store an enum by its value as a string, with a CHECK constraint (same on SQLite and PostgreSQL).

    name: the constraint's, where a table has two columns of one enum (by default the enum's name).
    """
    return sa.Enum(
        enum_class,
        name=name or enum_class.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Timestamp = sa.DateTime(timezone=True)

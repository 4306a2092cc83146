from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base
from incidents.models.columns import Timestamp, enum_column_type, utcnow
from incidents.vocabulary import Role


class User(Base):
    """A staff account. The public never logs in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column_type(Role))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Part of the session identity: changing it (logout, password change) kills every open session.
    session_nonce: Mapped[str] = mapped_column(sa.String(64), default=lambda: secrets.token_hex(16))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    @property
    def can_edit(self) -> bool:
        """Every staff role drafts, edits and submits incidents."""
        return self.is_active and self.role in (Role.ADMIN, Role.REVIEWER, Role.EDITOR)

    @property
    def can_review(self) -> bool:
        """Send back, publish and retract incidents."""
        return self.is_active and self.role in (Role.ADMIN, Role.REVIEWER)

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role.value}>"

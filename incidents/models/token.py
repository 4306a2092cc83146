from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.extensions import Base
from incidents.models.columns import Timestamp, utcnow

if TYPE_CHECKING:
    from incidents.models.user import User


class ApiToken(Base):
    """A revocable API credential. Only a SHA-256 hash of the token is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters of the token, to tell tokens apart in lists without revealing them.
    prefix: Mapped[str] = mapped_column(sa.String(12))
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(Timestamp)
    # Past this moment the token no longer authenticates (TOKEN_LIFETIME_DAYS after it was made).
    expires_at: Mapped[dt.datetime] = mapped_column(Timestamp)

    user: Mapped[User] = relationship()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self) -> bool:
        expires = self.expires_at
        if expires.tzinfo is None:  # SQLite keeps no offset; every timestamp is written in UTC
            expires = expires.replace(tzinfo=dt.UTC)
        return expires <= utcnow()

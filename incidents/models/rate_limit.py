from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from incidents.extensions import Base


class RateLimitCounter(Base):
    """How many requests one client made within one rate limit's current window (web.limit_storage): the
    counts every process of every instance shares when RATELIMIT_STORAGE_URI is "database://".

    The key is a SHA-256 digest of Flask-Limiter's key, which names the client's address or the email
    address typed at login: this table, which backups hold too, keeps neither in clear, and no key is too
    long for an index. A row past its expiry counts as none, and is written over at the next request.
    """

    __tablename__ = "rate_limit_counters"

    key_digest: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer)
    # When the window ends, in seconds since the epoch (time.time()).
    expires_at: Mapped[float] = mapped_column(sa.Float)

    def __repr__(self) -> str:
        return f"<RateLimitCounter {self.key_digest[:12]} {self.count} until {self.expires_at}>"

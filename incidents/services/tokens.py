"""API tokens: created for a user, shown once, stored as a SHA-256 hash, revocable."""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa

from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.models.columns import utcnow

TOKEN_PREFIX = "inc_"  # noqa: S105 - the public prefix every token starts with, not a secret


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """A new token for user: the record, and the token itself (never stored, shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, token_hash=_digest(token), prefix=token[:12])
    db.session.add(record)
    return record, token


def user_for_token(token: str) -> User | None:
    """The active user an active token belongs to; None for unknown, revoked or malformed tokens."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    record = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if record is None or not record.is_active or not record.user.is_active:
        return None
    record.last_used_at = utcnow()
    return record.user


def revoke_token(record: ApiToken) -> None:
    if record.revoked_at is None:
        record.revoked_at = utcnow()


class TokenError(ValueError):
    """A token operation refused; the message says why."""


def create_token_for(email: str, name: str = "") -> tuple[ApiToken, str]:
    """A new token for the active account with this email (any case); TokenError when there is none."""
    user = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active:
        raise TokenError(f"There is no active account {email!r}.")
    record, token = create_token(user, name)
    db.session.flush()
    return record, token


def revoke_tokens(prefix: str) -> int:
    """Revoke the active tokens whose first 12 characters (as create-token printed them) are prefix; how
    many. TokenError when prefix is shorter or names none."""
    matches = db.session.scalars(sa.select(ApiToken).where(ApiToken.prefix == prefix[:12])).all()
    active = [record for record in matches if record.is_active]
    if len(prefix) < 12 or not active:
        raise TokenError(f"No active token starts with {prefix!r} (give its first 12 characters).")
    for record in active:
        revoke_token(record)
    db.session.flush()
    return len(active)

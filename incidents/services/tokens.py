"""API tokens: made for an account, shown once, kept as a SHA-256 hash, expiring, revocable; audited.

The audit trail keeps a token's id, name, prefix (its first characters, shown in lists) and expiry: never
the token itself or its hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.models.columns import utcnow
from incidents.services.accounts import account_by_email

TOKEN_PREFIX = "inc_"  # noqa: S105 - the public prefix every token starts with, not a secret
# A token's last use is written at most this often. A read through the API then writes nothing for a minute:
# on SQLite every write takes the database's one write lock, which saves from every process wait for.
LAST_USE_INTERVAL = dt.timedelta(minutes=1)


class TokenError(ValueError):
    """A token operation refused; the message says why."""


class TokenRefused(Exception):
    """A token that does not authenticate; `record` is its row when it is known (expired, revoked, or its
    account deactivated), None for an unknown or malformed token."""

    def __init__(self, message: str, record: ApiToken | None = None) -> None:
        super().__init__(message)
        self.record = record


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def lifetime() -> dt.timedelta:
    return dt.timedelta(days=int(current_app.config["TOKEN_LIFETIME_DAYS"]))


def create_token(user: User, name: str, actor: Actor) -> tuple[ApiToken, str]:
    """A new token for user: the record, and the token itself (never stored, shown once)."""
    if not user.is_active:
        raise TokenError(f"The account {user.email} is deactivated.")
    name = name.strip()
    if len(name) > 120 or "\x00" in name:
        raise TokenError("name: at most 120 characters.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user=user,
        name=name,
        token_hash=_digest(token),
        prefix=token[:12],
        expires_at=utcnow() + lifetime(),
    )
    db.session.add(record)
    db.session.flush()
    audit.record(
        db.session.connection(),
        actor,
        "token.create",
        "token",
        record.id,
        changes=audit.changes(None, _snapshot(record)),
    )
    return record, token


def _snapshot(record: ApiToken) -> dict[str, object]:
    return {
        "account": record.user.email,
        "name": record.name,
        "prefix": record.prefix,
        "expires_at": record.expires_at.isoformat(),
        "revoked": record.revoked_at is not None,
    }


def user_for_token(token: str) -> tuple[User, ApiToken]:
    """The active account an active token belongs to, and the token's row; TokenRefused otherwise."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise TokenRefused("The API token is unknown or malformed.")
    record = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if record is None:
        raise TokenRefused("The API token is unknown or malformed.")
    if record.revoked_at is not None:
        raise TokenRefused("The API token was revoked.", record)
    if record.is_expired:
        raise TokenRefused("The API token has expired: make a new one on your account page.", record)
    if not record.user.is_active:
        raise TokenRefused("The API token's account is deactivated.", record)
    return record.user, record


def use_to_note(record: ApiToken) -> bool:
    """Whether the token's last use, as read, was written LAST_USE_INTERVAL ago or more (or never): then
    note_use has something to write. Costs no statement."""
    last = record.last_used_at
    return last is None or utcnow() - _in_utc(last) >= LAST_USE_INTERVAL


def note_use(record: ApiToken) -> bool:
    """Write that the token is used now, unless its last use was written less than LAST_USE_INTERVAL ago;
    whether it wrote. The caller commits.

    The check against the row as read costs no statement; the UPDATE's own condition makes requests that
    race past it write once: a second one finds the row already up to date and changes nothing.
    """
    if not use_to_note(record):
        return False
    now = utcnow()
    due = sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at <= now - LAST_USE_INTERVAL)
    statement = (
        sa.update(ApiToken)
        .where(ApiToken.id == record.id, due)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    written = cast(sa.CursorResult[Any], db.session.execute(statement)).rowcount > 0
    if written:
        set_committed_value(record, "last_used_at", now)
    return written


def _in_utc(moment: dt.datetime) -> dt.datetime:
    # SQLite keeps no offset; every timestamp is written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def revoke_token(record: ApiToken, actor: Actor) -> None:
    if record.revoked_at is not None:
        return
    before = _snapshot(record)
    record.revoked_at = utcnow()
    db.session.flush()
    audit.record(
        db.session.connection(),
        actor,
        "token.revoke",
        "token",
        record.id,
        changes=audit.changes(before, _snapshot(record)),
    )


def create_token_for(email: str, name: str, actor: Actor) -> tuple[ApiToken, str]:
    """A new token for the active account with this email (any case); TokenError when there is none."""
    user = account_by_email(email)
    if user is None or not user.is_active:
        raise TokenError(f"There is no active account {email!r}.")
    return create_token(user, name, actor)


def revoke_tokens(prefix: str, actor: Actor) -> int:
    """Revoke the active tokens whose first 12 characters (as create-token printed them) are prefix; how
    many. TokenError when prefix is shorter or names none."""
    matches = db.session.scalars(sa.select(ApiToken).where(ApiToken.prefix == prefix[:12])).all()
    active = [record for record in matches if record.is_active]
    if len(prefix) < 12 or not active:
        raise TokenError(f"No active token starts with {prefix!r} (give its first 12 characters).")
    for record in active:
        revoke_token(record, actor)
    return len(active)


def tokens(user: User | None = None) -> list[ApiToken]:
    """Tokens, newest first: one account's, or every account's."""
    query = sa.select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(query))

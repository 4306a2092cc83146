"""Staff accounts: made, given a role, deactivated, their passwords changed or reset; every change audited.

The audit trail keeps an account's email, role and whether it is active: never a password or its hash.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from incidents import audit
from incidents.audit import Actor
from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.models.columns import utcnow
from incidents.passwords import hash_password, password_problem, verify_password
from incidents.vocabulary import Role


class AccountError(ValueError):
    """An account operation refused, with a message naming the field and the problem."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _snapshot(user: User) -> dict[str, object]:
    return {"email": user.email, "role": user.role.value, "is_active": user.is_active}


def _record(
    actor: Actor, operation: str, user: User, before: dict[str, object] | None, reason: str = ""
) -> None:
    audit.record(
        db.session.connection(),
        actor,
        operation,
        "account",
        user.id,
        changes=audit.changes(before, _snapshot(user)),
        reason=reason,
    )


def create_user(email: str, password: str, role: Role, actor: Actor) -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254 or "\x00" in email:
        raise AccountError("email", f"{email!r} is not an email address")
    problem = password_problem(password)
    if problem:
        raise AccountError("password", problem)
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AccountError("email", f"an account for {email} already exists")
    user = User(email=email, password_hash=hash_password(password), role=role)
    db.session.add(user)
    db.session.flush()
    _record(actor, "account.create", user, None)
    return user


def account_by_email(email: str) -> User | None:
    """The account with this email (any case), active or not."""
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == normalise_email(email)))


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password; None otherwise, in about the same time either way."""
    email = normalise_email(email)
    if "\x00" in email or len(email) > 254:
        verify_password(None, password)  # the same time as any other failure
        return None
    user = db.session.scalar(sa.select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of this user (logout, password change, deactivation)."""
    user.session_nonce = secrets.token_hex(16)


def change_password(user: User, old_password: str, password: str, actor: Actor) -> None:
    """The user's own change: the old password first. Every session of the user ends (the caller logs the
    one that asked in again)."""
    if not verify_password(user.password_hash, old_password):
        raise AccountError("old_password", "this is not your present password")
    _set_password(user, password, actor, "account.password")


def reset_password(user: User, password: str, actor: Actor) -> None:
    """An admin sets a new password for the user (who has lost theirs, or whose password leaked); every
    session of the user ends."""
    _set_password(user, password, actor, "account.reset_password")


def _set_password(user: User, password: str, actor: Actor, operation: str) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError("password", problem)
    user.password_hash = hash_password(password)
    end_sessions(user)
    db.session.flush()
    # The entry says the password changed, never what it is.
    audit.record(
        db.session.connection(), actor, operation, "account", user.id, changes={"password": ["…", "…"]}
    )


def set_role(user: User, role: Role, actor: Actor) -> None:
    before = _snapshot(user)
    if role == user.role:
        return
    if user.role == Role.ADMIN and _last_active_admin(user):
        raise AccountError("role", "this is the last active admin: make another admin first")
    user.role = role
    db.session.flush()
    _record(actor, "account.role", user, before)


def set_active(user: User, active: bool, actor: Actor) -> None:
    """Deactivate (every session and token stops working at once) or reactivate an account."""
    before = _snapshot(user)
    if active == user.is_active:
        return
    if not active and user.role == Role.ADMIN and _last_active_admin(user):
        raise AccountError("active", "this is the last active admin: make another admin first")
    user.is_active = active
    if not active:
        end_sessions(user)
        now = utcnow()
        for token in db.session.scalars(
            sa.select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        ):
            token.revoked_at = now
    db.session.flush()
    _record(actor, "account.activate" if active else "account.deactivate", user, before)


def _last_active_admin(user: User) -> bool:
    others = sa.select(sa.func.count()).where(
        User.role == Role.ADMIN, User.is_active.is_(True), User.id != user.id
    )
    return not db.session.scalar(others)


def accounts() -> list[User]:
    return list(db.session.scalars(sa.select(User).order_by(User.email)))

"""Account operations, apart from HTTP."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from incidents.extensions import db
from incidents.models import User
from incidents.passwords import hash_password, password_problem, verify_password
from incidents.vocabulary import Role


class AccountError(ValueError):
    """An account operation refused, with a message naming the field and the problem."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, password: str, role: Role) -> User:
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"email: {email!r} is not an email address")
    problem = password_problem(password)
    if problem:
        raise AccountError(f"password: {problem}")
    if db.session.scalar(sa.select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"email: an account for {email} already exists")
    user = User(email=email, password_hash=hash_password(password), role=role)
    db.session.add(user)
    return user


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
    """Invalidate every session of this user (logout, password change)."""
    user.session_nonce = secrets.token_hex(16)


def change_password(user: User, password: str) -> None:
    problem = password_problem(password)
    if problem:
        raise AccountError(f"password: {problem}")
    user.password_hash = hash_password(password)
    end_sessions(user)

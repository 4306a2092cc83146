"""Password hashing with argon2id, and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


# Verified against when the account does not exist, so that an unknown address costs the same time. Made
# once with this hasher's parameters and written here: hashing it at import would cost every command (an
# export, an import) argon2's 64 MiB and a fifth of a second, and hashing it at the first login would make
# that login slower, a tell. tests/test_auth.py checks its parameters are still the hasher's.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$RlmGr6I52DRpso6HtT/3Yg$+b0439gfGBPK9JWxeeplGFMpa2H6FnIjpZWxAcONGeg"
)


def password_problem(password: str) -> str | None:
    """Why this password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False

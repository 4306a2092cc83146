"""Password hashing with argon2id, and the password policy."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from argon2 import Parameters, PasswordHasher, Type, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

# argon2-cffi's parameter profiles, by the name PASSWORD_HASH_PROFILE gives. The default is the library's
# recommendation (RFC 9106's second recommended option, 64 MiB and 3 passes: PasswordHasher()'s defaults).
DEFAULT_PROFILE = "RFC_9106_LOW_MEMORY"
PROFILES = {
    "RFC_9106_LOW_MEMORY": profiles.RFC_9106_LOW_MEMORY,
    "RFC_9106_HIGH_MEMORY": profiles.RFC_9106_HIGH_MEMORY,
    "PRE_21_2": profiles.PRE_21_2,
    "CHEAPEST": profiles.CHEAPEST,  # for tests only: no protection at all against guessing
}
# The profiles an app in production may use: RFC 9106's two recommendations. The others are weaker.
PRODUCTION_PROFILES = frozenset({"RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY"})

# Verified against when the account does not exist, so that an unknown address costs the same time. Made
# once with the default profile's parameters and written here: hashing it at import would cost every command
# (an export, an import) argon2's 64 MiB and a fifth of a second, and hashing it at the first login would
# make that login slower, a tell. tests/test_auth.py checks its parameters are still the default profile's.
DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$RlmGr6I52DRpso6HtT/3Yg$+b0439gfGBPK9JWxeeplGFMpa2H6FnIjpZWxAcONGeg"
)

_EXTENSION = "incidents.passwords"
_TYPE_NAMES = {Type.ID: "argon2id", Type.I: "argon2i", Type.D: "argon2d"}


@dataclass(frozen=True)
class Hashing:
    """An app's password hasher, and the hash verified for an unknown account: one with its parameters."""

    hasher: PasswordHasher
    dummy_hash: str

    @classmethod
    def for_profile(cls, name: str) -> Hashing:
        if name not in PROFILES:
            raise ValueError(f"{name!r} is not an argon2 profile: one of {', '.join(PROFILES)}")
        parameters = PROFILES[name]
        hasher = PasswordHasher.from_parameters(parameters)
        if hasher.check_needs_rehash(DUMMY_HASH):
            return cls(hasher, _dummy_hash(parameters))
        return cls(hasher, DUMMY_HASH)


def _dummy_hash(parameters: Parameters) -> str:
    """A hash in argon2's encoding with the hasher's parameters, a random salt and a random digest.

    Verifying a password against it costs what verifying against a real hash of these parameters costs (the
    digest is computed in full, then compared), and no password matches it. Made without hashing: free for
    any profile, at start or at the first login alike.
    """

    def b64(length: int) -> str:
        return base64.b64encode(os.urandom(length)).decode("ascii").rstrip("=")

    return (
        f"${_TYPE_NAMES[parameters.type]}$v={parameters.version}"
        f"$m={parameters.memory_cost},t={parameters.time_cost},p={parameters.parallelism}"
        f"${b64(parameters.salt_len)}${b64(parameters.hash_len)}"
    )


def hashing(app: Flask | None = None) -> Hashing:
    """The app's hashing, made on first use from its PASSWORD_HASH_PROFILE and kept in app.extensions."""
    if app is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    found: Hashing | None = app.extensions.get(_EXTENSION)
    if found is None:
        found = app.extensions.setdefault(
            _EXTENSION, Hashing.for_profile(app.config["PASSWORD_HASH_PROFILE"])
        )
    return found


def password_problem(password: str) -> str | None:
    """Why this password is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters long"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters long"
    return None


def hash_password(password: str) -> str:
    return hashing().hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether password is the one hashed; for None (no such account), False after the same work.

    Hashes made with other parameters (another profile, older defaults) verify too: argon2 reads them from
    the hash.
    """
    used = hashing()
    try:
        return used.hasher.verify(password_hash or used.dummy_hash, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False

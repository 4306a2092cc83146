"""Configuration: defaults in code, then instance/config.py, then INCIDENTS_* variables, then a test dict."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from incidents import passwords


class ConfigurationError(RuntimeError):
    """The app cannot start with this configuration."""


DEFAULTS: dict[str, Any] = {
    # "production" turns on the start-up checks (secret key, debug) and Secure cookies.
    "ENVIRONMENT": "development",
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": None,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    # Uploads to the import page larger than this are checked and imported in a background thread, with a
    # progress bar; smaller ones within the request.
    "IMPORT_BACKGROUND_BYTES": 1024 * 1024,
    # Where uploads wait for their import to be confirmed (instance/imports when unset).
    "IMPORT_FOLDER": None,
    "INCIDENTS_PER_PAGE": 50,
    # Days an API token works after it is made; then its owner makes a new one.
    "TOKEN_LIFETIME_DAYS": 90,
    # The address the public reaches the app at (https://example.org/), for permalinks in exports; when
    # unset, web exports use the request's address and `flask export` uses http://127.0.0.1:5000/.
    "PUBLIC_BASE_URL": None,
    # Geocoding: "gazetteer" (offline, the default) or "nominatim" (needs GEOCODER_USER_AGENT and network).
    "GEOCODER": "gazetteer",
    "GEOCODER_USER_AGENT": None,
    "GEOCODER_NOMINATIM_DOMAIN": "nominatim.openstreetmap.org",
    # Map tiles. An empty TILE_URL draws maps with no background tiles and makes no outside request.
    "TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "TILE_ATTRIBUTION": (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    ),
    # Failed logins, per client and per account.
    "LOGIN_RATE_LIMIT": "10 per 5 minutes",
    # Every login attempt, successful or not, per client and per account: failed ones are counted only once
    # answered, so attempts sent at the same moment are bounded by this cap.
    "LOGIN_ATTEMPT_LIMIT": "30 per 5 minutes",
    "RATELIMIT_STORAGE_URI": "memory://",
    # argon2's parameters for new password hashes: a profile of argon2-cffi (argon2.profiles). Production
    # accepts RFC 9106's two recommendations only; the tests use CHEAPEST, which protects nothing.
    "PASSWORD_HASH_PROFILE": passwords.DEFAULT_PROFILE,
}

# Settings that may come from INCIDENTS_<NAME> environment variables, and how to read them.
_ENV_PARSERS: dict[str, Any] = {
    "ENVIRONMENT": str,
    "SECRET_KEY": str,
    "GEOCODER": str,
    "GEOCODER_USER_AGENT": str,
    "GEOCODER_NOMINATIM_DOMAIN": str,
    "TILE_URL": str,
    "TILE_ATTRIBUTION": str,
    "INCIDENTS_PER_PAGE": int,
    "TOKEN_LIFETIME_DAYS": int,
    "PUBLIC_BASE_URL": str,
    "MAX_CONTENT_LENGTH": int,
    "IMPORT_BACKGROUND_BYTES": int,
    "IMPORT_FOLDER": str,
    "LOGIN_RATE_LIMIT": str,
    "LOGIN_ATTEMPT_LIMIT": str,
    "RATELIMIT_STORAGE_URI": str,
    "SESSION_COOKIE_SECURE": json.loads,
    "PASSWORD_HASH_PROFILE": str,
}


def normalise_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """The app's settings, in order (later wins), then checked: it refuses to start unsafely."""
    _read_settings(app, test_config)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not uri:
        uri = "sqlite:///" + str(Path(app.instance_path) / "incidents.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(uri)
    profile = app.config["PASSWORD_HASH_PROFILE"]
    if profile not in passwords.PROFILES:
        raise ConfigurationError(
            f"PASSWORD_HASH_PROFILE: {profile!r} is not one of argon2's profiles "
            f"({', '.join(passwords.PROFILES)})"
        )
    if app.config["ENVIRONMENT"] == "production":
        _production_checks(app)
    elif not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _local_secret_key(Path(app.instance_path))


def _read_settings(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults, then instance/config.py, then INCIDENTS_* variables and DATABASE_URL, then the test dict."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for name, parse in _ENV_PARSERS.items():
        value = os.environ.get(f"INCIDENTS_{name}")
        if value is not None:
            app.config[name] = parse(value)
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.from_mapping(test_config)


def _production_checks(app: Flask) -> None:
    """Secure cookies; no debug, a secret key and a recommended password hashing, or no start."""
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = True
    if app.debug:
        raise ConfigurationError("refusing to start in production with debug on")
    if not app.config["SECRET_KEY"]:
        raise ConfigurationError(
            "refusing to start in production without SECRET_KEY "
            "(set INCIDENTS_SECRET_KEY or SECRET_KEY in instance/config.py)"
        )
    profile = app.config["PASSWORD_HASH_PROFILE"]
    if profile not in passwords.PRODUCTION_PROFILES:
        raise ConfigurationError(
            f"refusing to start in production with PASSWORD_HASH_PROFILE {profile}: production takes "
            f"RFC 9106's recommendations only ({', '.join(sorted(passwords.PRODUCTION_PROFILES))})"
        )


def _local_secret_key(instance: Path) -> str:
    """A random key kept in instance/ so that development sessions survive a restart; never a key in code."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key

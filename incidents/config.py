"""Configuration: defaults in code, then instance/config.py, then INCIDENTS_* variables, then a test dict."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import limits
from flask import Flask

from incidents import passwords, private_files
from incidents.domain import sensitivity


class ConfigurationError(RuntimeError):
    """The app cannot start with this configuration."""


# The values ENVIRONMENT takes (in any case, with spaces around): anything else is a mistake, refused at start
# rather than quietly taken for development, which would turn off every production check.
ENVIRONMENTS = ("development", "production")
# A shorter SECRET_KEY, in UTF-8 bytes, is refused in production: a short key (a word, a test value) can be
# found by trying keys against one signed session cookie, and any session forged with it; 32 random bytes
# cannot be.
SECRET_KEY_MIN_BYTES = 32
RANDOM_KEY_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
# Hosts a production PUBLIC_BASE_URL may name over plain http: a trial of production settings on one's own
# machine, where nothing crosses a network.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

DEFAULTS: dict[str, Any] = {
    # "production" turns on the start-up checks (secret key, debug, PUBLIC_BASE_URL), Secure cookies and HSTS.
    "ENVIRONMENT": "development",
    "SECRET_KEY": None,
    "SQLALCHEMY_DATABASE_URI": None,
    "SQLALCHEMY_ENGINE_OPTIONS": {},
    # Seconds a save waits for another's lock before it is tried again (services.transactions), and then
    # answered 503 with Retry-After: SQLite's busy timeout, PostgreSQL's lock_timeout for a save.
    "DATABASE_BUSY_TIMEOUT": 5.0,
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
    # Where uploads wait for their import to be confirmed (instance/imports when unset; JOB_QUEUE thread).
    "IMPORT_FOLDER": None,
    # Who runs the import page's background jobs (incidents.jobs): "thread", a thread of the web process, the
    # jobs on local disk (one machine); "procrastinate", worker processes (`flask --app incidents worker`,
    # anywhere) taking them from a queue in PostgreSQL, the jobs in the database (several instances). "auto":
    # procrastinate on PostgreSQL, thread on SQLite.
    "JOB_QUEUE": "auto",
    "INCIDENTS_PER_PAGE": 50,
    # Days an API token works after it is made; then its owner makes a new one.
    "TOKEN_LIFETIME_DAYS": 90,
    # The address the public reaches the app at (https://example.org/), for permalinks in exports; when
    # unset, web exports use the request's address and `flask export` uses http://127.0.0.1:5000/. Required
    # in production, where permalinks and citation lines must not come from the request's Host header.
    "PUBLIC_BASE_URL": None,
    # The grid, in degrees, a sensitive location is published on: the public sees the centre of its cell
    # (domain.sensitivity). More than 0, at most 10. After a change, run `flask --app incidents
    # public-locations` to move every published location to the new grid.
    "LOCATION_GRID_DEGREES": sensitivity.DEFAULT_GRID,
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
    # Where the rate limits count (Flask-Limiter's storage): "database://" is the app's own database, which
    # every process of every instance sees with no other server (web.limit_storage); or a server such as
    # "redis://host:6379" (with the redis package installed) or "memcached://host:11211". "memory://"
    # counts in each process apart: with four processes a client gets four times its limit.
    "RATELIMIT_STORAGE_URI": "database://",
    # The public's costly requests, per client address, within each window (Flask-Limiter's notation:
    # "30 per minute; 300 per hour"); accounts, logged in or by token, are not limited. Searches: the list
    # and the map with a search text (q), and the timeline, counted together.
    "SEARCH_RATE_LIMIT": "30 per minute; 300 per hour",
    # The map's data, asked for at each move of the map.
    "MAP_DATA_RATE_LIMIT": "120 per minute",
    # Downloads of the exports (/export.json, .geojson, .csv): each may read every published incident.
    "EXPORT_RATE_LIMIT": "20 per hour",
    # Pages of the API's lists (GET /api/v1/incidents and /api/v1/sources), counted together.
    "API_RATE_LIMIT": "60 per minute",
    # Seconds the queries of one GET request may take in all (incidents.query_budget); past them the request
    # is answered 503, "narrow your search". 0: no budget. For the public, and for accounts (logged in or
    # by token), whose work over unpublished records may read more, but whose page nobody waits for past a
    # minute: the budget stops the query of a page given up on, which would otherwise hold a connection.
    "PUBLIC_QUERY_BUDGET": 5.0,
    "STAFF_QUERY_BUDGET": 60.0,
    # How many reverse proxies stand in front of the app (nginx alone: 1). Their X-Forwarded-For and
    # X-Forwarded-Proto headers are then believed (werkzeug's ProxyFix), so that login throttling counts per
    # client, not per proxy. 0: the app is reached directly, and those headers, which anyone can send, are
    # ignored.
    "PROXY_COUNT": 0,
    # argon2's parameters for new password hashes: a profile of argon2-cffi (argon2.profiles). Production
    # accepts RFC 9106's two recommendations only; the tests use CHEAPEST, which protects nothing.
    "PASSWORD_HASH_PROFILE": passwords.DEFAULT_PROFILE,
}

QUERY_BUDGETS = ("PUBLIC_QUERY_BUDGET", "STAFF_QUERY_BUDGET")
RATE_LIMITS = (
    "LOGIN_RATE_LIMIT",
    "LOGIN_ATTEMPT_LIMIT",
    "SEARCH_RATE_LIMIT",
    "MAP_DATA_RATE_LIMIT",
    "EXPORT_RATE_LIMIT",
    "API_RATE_LIMIT",
)

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
    "LOCATION_GRID_DEGREES": float,
    "PUBLIC_BASE_URL": str,
    "MAX_CONTENT_LENGTH": int,
    "IMPORT_BACKGROUND_BYTES": int,
    "IMPORT_FOLDER": str,
    "JOB_QUEUE": str,
    "LOGIN_RATE_LIMIT": str,
    "LOGIN_ATTEMPT_LIMIT": str,
    "RATELIMIT_STORAGE_URI": str,
    "SEARCH_RATE_LIMIT": str,
    "MAP_DATA_RATE_LIMIT": str,
    "EXPORT_RATE_LIMIT": str,
    "API_RATE_LIMIT": str,
    "PUBLIC_QUERY_BUDGET": float,
    "STAFF_QUERY_BUDGET": float,
    "SESSION_COOKIE_SECURE": json.loads,
    "PASSWORD_HASH_PROFILE": str,
    "DATABASE_BUSY_TIMEOUT": float,
    "PROXY_COUNT": int,
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
    app.config["ENVIRONMENT"] = _environment(app.config["ENVIRONMENT"])
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
    busy = app.config["DATABASE_BUSY_TIMEOUT"]
    if isinstance(busy, bool) or not isinstance(busy, int | float) or not 0 < busy <= 600:
        raise ConfigurationError(
            f"DATABASE_BUSY_TIMEOUT: {busy!r} is not a number of seconds above 0, at most 600"
        )
    app.config["JOB_QUEUE"] = _job_queue(app.config["JOB_QUEUE"], app.config["SQLALCHEMY_DATABASE_URI"])
    _check_request_costs(app)
    proxies = app.config["PROXY_COUNT"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= 10:
        raise ConfigurationError(f"PROXY_COUNT: {proxies!r} is not a number of reverse proxies, 0 to 10")
    try:
        app.config["LOCATION_GRID_DEGREES"] = sensitivity.check_grid(app.config["LOCATION_GRID_DEGREES"])
    except ValueError as error:
        raise ConfigurationError(f"LOCATION_GRID_DEGREES: {error}") from None
    if app.config["PUBLIC_BASE_URL"]:
        production = app.config["ENVIRONMENT"] == "production"
        _check_public_base_url(app.config["PUBLIC_BASE_URL"], production=production)
    if app.config["ENVIRONMENT"] == "production":
        _production_checks(app)
    elif not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _local_secret_key(Path(app.instance_path))


def _job_queue(value: Any, database_url: str) -> str:
    postgresql = database_url.startswith("postgresql")
    queue = value.strip().lower() if isinstance(value, str) else value
    if queue == "auto":
        return "procrastinate" if postgresql else "thread"
    if queue not in ("thread", "procrastinate"):
        raise ConfigurationError(f"JOB_QUEUE: {value!r} is not one of auto, thread, procrastinate")
    if queue == "procrastinate" and not postgresql:
        raise ConfigurationError("JOB_QUEUE: procrastinate queues in PostgreSQL; on SQLite use thread")
    return str(queue)


def _check_request_costs(app: Flask) -> None:
    """The query budgets and the rate limits, or ConfigurationError naming the first that is wrong."""
    for name in QUERY_BUDGETS:
        seconds = app.config[name]
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 3600:
            raise ConfigurationError(
                f"{name}: {seconds!r} is not a number of seconds from 0 (no budget) to 3600"
            )
    for name in RATE_LIMITS:
        _check_rate_limit(name, app.config[name])


def _check_rate_limit(name: str, value: Any) -> None:
    """A rate limit in Flask-Limiter's notation ("10 per 5 minutes; 100 per day"), or ConfigurationError."""
    try:
        if not isinstance(value, str) or not limits.parse_many(value):
            raise ValueError(value)
    except ValueError:
        raise ConfigurationError(
            f"{name}: {value!r} is not a rate limit such as '30 per minute' or "
            "'10 per 5 minutes; 100 per day'"
        ) from None


def _read_settings(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults, then instance/config.py, then INCIDENTS_* variables and DATABASE_URL, then the test dict."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for name, parse in _ENV_PARSERS.items():
        value = os.environ.get(f"INCIDENTS_{name}")
        if value is not None:
            try:
                app.config[name] = parse(value)
            except ValueError:
                kind = {int: "a whole number", float: "a number"}.get(parse, "JSON")
                raise ConfigurationError(f"INCIDENTS_{name}: {value!r} is not {kind}") from None
    if os.environ.get("DATABASE_URL"):
        app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    if test_config:
        app.config.from_mapping(test_config)


def _environment(value: Any) -> str:
    """ENVIRONMENT in lower case, without spaces around; ConfigurationError when not one of ENVIRONMENTS."""
    environment = value.strip().lower() if isinstance(value, str) else value
    if environment not in ENVIRONMENTS:
        raise ConfigurationError(
            f"ENVIRONMENT: {value!r} is not one of {', '.join(ENVIRONMENTS)} "
            "(set INCIDENTS_ENVIRONMENT or ENVIRONMENT in instance/config.py)"
        )
    return str(environment)


def _check_public_base_url(url: Any, *, production: bool) -> None:
    """An absolute http(s) address with a host, no query or fragment; https in production but on loopback."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts else None
    except ValueError:  # such as an unclosed [ of an IPv6 address
        parts = host = None
    if parts is None or parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        raise ConfigurationError(
            f"PUBLIC_BASE_URL: {url!r} is not the absolute http(s) address the public reaches the app at, "
            "such as https://incidents.example.org/"
        )
    if production and parts.scheme != "https" and host not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"refusing to start in production with PUBLIC_BASE_URL {url}: the public address must be https "
            "(plain http only for localhost, to try production settings on one's own machine)"
        )


def _production_checks(app: Flask) -> None:
    """Secure cookies; no debug, a long secret key, the public address and a recommended password hashing,
    or no start."""
    app.config["SESSION_COOKIE_SECURE"] = True
    app.config["REMEMBER_COOKIE_SECURE"] = True
    if app.debug:
        raise ConfigurationError("refusing to start in production with debug on")
    key = app.config["SECRET_KEY"]
    if not key:
        raise ConfigurationError(
            "refusing to start in production without SECRET_KEY (set INCIDENTS_SECRET_KEY or SECRET_KEY in "
            f"instance/config.py to a random key of {SECRET_KEY_MIN_BYTES} bytes or more, made with "
            f"{RANDOM_KEY_COMMAND})"
        )
    size = len(key if isinstance(key, bytes) else str(key).encode("utf-8"))
    if size < SECRET_KEY_MIN_BYTES:
        raise ConfigurationError(
            f"refusing to start in production with a SECRET_KEY of {size} bytes: it needs "
            f"{SECRET_KEY_MIN_BYTES} or more, random; make one with {RANDOM_KEY_COMMAND}"
        )
    if not app.config["PUBLIC_BASE_URL"]:
        raise ConfigurationError(
            "refusing to start in production without PUBLIC_BASE_URL, the https address the public reaches "
            "the app at (such as https://incidents.example.org/): permalinks and citation lines are built on "
            "it, never on the Host header a request brings"
        )
    profile = app.config["PASSWORD_HASH_PROFILE"]
    if profile not in passwords.PRODUCTION_PROFILES:
        raise ConfigurationError(
            f"refusing to start in production with PASSWORD_HASH_PROFILE {profile}: production takes "
            f"RFC 9106's recommendations only ({', '.join(sorted(passwords.PRODUCTION_PROFILES))})"
        )


def _local_secret_key(instance: Path) -> str:
    """A random key kept in instance/ so that development sessions survive a restart; never a key in code."""
    path = private_files.private_folder(instance) / "secret_key"
    if path.exists():
        private_files.warn_if_shared(path)
        return path.read_text().strip()
    key = secrets.token_hex(32)
    fd = private_files.open_private_file(path, os.O_WRONLY | os.O_EXCL)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key

"""incidents: a documentation database for human-rights incidents."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

import limits.errors
import sqlalchemy as sa
from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from incidents import config, private_files, query_budget
from incidents.extensions import csrf, db, limiter, login_manager, migrate

# Templates, static files and migrations are package data: they live in the package and install with it.
PACKAGE_DIR = Path(__file__).resolve().parent
MIGRATIONS_DIR = PACKAGE_DIR / "migrations"


def _checkout_root() -> Path | None:
    """The source checkout this package runs from (plain or editable install), or None when installed.

    A checkout is recognised by this project's own pyproject.toml beside the package folder: an installed
    package sits in site-packages, which holds no such file, and a pyproject.toml of some other project that
    happens to be there does not count.
    """
    pyproject = PACKAGE_DIR.parent / "pyproject.toml"
    try:
        with pyproject.open("rb") as handle:
            name = tomllib.load(handle).get("project", {}).get("name")
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return PACKAGE_DIR.parent if name == "incidents" else None


def _instance_path() -> str | None:
    """INCIDENTS_INSTANCE_PATH when set; else <checkout>/instance in a checkout; else None, Flask's default.

    Flask's default for an installed package is <sys.prefix>/var/incidents-instance.
    """
    if os.environ.get("INCIDENTS_INSTANCE_PATH"):
        return os.path.abspath(os.environ["INCIDENTS_INSTANCE_PATH"])
    root = _checkout_root()
    return str(root / "instance") if root else None


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application factory: the only way an app exists."""
    # Templates and static files: Flask's defaults, incidents/templates and incidents/static.
    app = Flask(__name__, instance_path=_instance_path(), instance_relative_config=True)
    config.load(app, test_config)
    if app.config["PROXY_COUNT"]:
        # The client's address and scheme as the proxies saw them: one X-Forwarded-For and -Proto entry each.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    # Before db.init_app, which makes the instance folder for a relative SQLite path, and before the first
    # connection, which would make the database file: both with the umask's mode. The app, `flask db upgrade`
    # and every other command come through here.
    private_files.prepare_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"], Path(app.instance_path))
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    _init_limiter(app)
    _configure_sqlite(app)
    _configure_postgresql(app)
    with app.app_context():
        query_budget.install(db.engine)  # the time budget of a request's queries (web.budget)

    from incidents import cli, web

    web.init_app(app)  # every page and endpoint
    cli.init_app(app)  # every `flask --app incidents` command
    return app


def _init_limiter(app: Flask) -> None:
    """Flask-Limiter, counting where RATELIMIT_STORAGE_URI says; a store it cannot use stops the start."""
    # The "database://" storage is registered, by its scheme, when its module is imported.
    from incidents.web import limit_storage  # noqa: F401

    try:
        limiter.init_app(app)
    except limits.errors.ConfigurationError as error:
        raise config.ConfigurationError(f"RATELIMIT_STORAGE_URI: {error}") from None


def _configure_sqlite(app: Flask) -> None:
    """WAL, a busy timeout (DATABASE_BUSY_TIMEOUT), enforced foreign keys and secure_delete on every SQLite
    connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine
    busy_ms = int(app.config["DATABASE_BUSY_TIMEOUT"] * 1000)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        # What is deleted or overwritten is zeroed in the file, not left in free space where any copy of the
        # file would keep it (an erased witness's name, a confidential note overwritten).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    sa.event.listen(engine, "connect", on_connect)
    # An import's stage (a scratch database attached to its connection) goes when the connection is back.
    from incidents.services.imports import staging

    sa.event.listen(engine, "checkin", staging.release)


def _configure_postgresql(app: Flask) -> None:
    """A lock timeout (DATABASE_BUSY_TIMEOUT) on every PostgreSQL connection, as SQLite's busy timeout: a
    write waits that long for a row or table another transaction holds, then fails (a save is tried again,
    then answered 503: services.transactions) rather than keep a request, or a migration, waiting forever."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        return
    with app.app_context():
        engine = db.engine
    lock_ms = int(app.config["DATABASE_BUSY_TIMEOUT"] * 1000)

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {lock_ms}")
        dbapi_connection.commit()

    sa.event.listen(engine, "connect", on_connect)

"""Fixtures: a fresh database per test, on SQLite always and on PostgreSQL when TEST_DATABASE_URL is set."""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents import audit, create_app, derived
from incidents.config import normalise_database_url
from incidents.extensions import db, limiter
from incidents.jobs import queue
from incidents.models import User
from incidents.services.incident_types import seed_incident_types
from incidents.vocabulary import Role
from tests import factories
from tests.helpers import login

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str | None]:
    """A throwaway PostgreSQL database for this test session, made from TEST_DATABASE_URL."""
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        yield None
        return
    admin_url = normalise_database_url(admin_url)
    name = f"incidents_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    schema_engine = sa.create_engine(url)
    db.metadata.create_all(schema_engine)
    with schema_engine.begin() as connection:
        queue.create_schema(connection)
    schema_engine.dispose()
    yield url
    # FORCE ends our own sessions; an autovacuum worker in the database (the server's, which a role without
    # pg_signal_backend may not end) is waited for: it leaves within moments.
    for attempt in range(20):
        try:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            break
        except sa.exc.DBAPIError:
            if attempt == 19:
                raise
            time.sleep(0.5)
    admin.dispose()


def _test_config(database_url: str, instance: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        # Tests log in many times; the throttling tests set the real limit themselves.
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "LOGIN_ATTEMPT_LIMIT": "1000 per minute",
        # And browse, search and export many times: tests/test_rate_limits.py sets the limits it tries.
        "SEARCH_RATE_LIMIT": "1000 per minute",
        "MAP_DATA_RATE_LIMIT": "1000 per minute",
        "EXPORT_RATE_LIMIT": "1000 per minute",
        "API_RATE_LIMIT": "1000 per minute",
        # argon2 with the fewest passes and least memory: a login in microseconds, not a fifth of a second
        # and 64 MiB. test_auth checks the production parameters once, with the default configuration.
        "PASSWORD_HASH_PROFILE": "CHEAPEST",
        "TILE_URL": "",
        # Import uploads wait in the test's own folder, not in instance/.
        "IMPORT_FOLDER": str(instance / "imports"),
        # Background jobs in threads of the test's process (test_job_queue sets procrastinate).
        "JOB_QUEUE": "thread",
    }


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with the schema and the seed vocabulary, made once a session: each test gets a copy
    of the file, which is what building it again would give, in a hundredth of the time."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    app = create_app(_test_config(f"sqlite:///{path}", path.parent))
    with app.app_context():
        db.create_all()
        seed_incident_types()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # the last connection closed: the write-ahead log is folded into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path: Path, postgresql_url: str | None, sqlite_template: Path
) -> Iterator[Flask]:
    """An app on a fresh database holding only the seed vocabulary."""
    extra: dict[str, Any] = getattr(request, "param_config", {})
    marker = request.node.get_closest_marker("app_config")
    if marker:
        extra = dict(marker.args[0])
    for backend in BACKENDS:
        only = request.node.get_closest_marker(f"{backend}_only")
        if only and request.param != backend:
            pytest.skip(only.args[0])
    if request.param == "postgresql":
        if postgresql_url is None:
            pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (set by .ci/run)")
        database_url = postgresql_url
    else:
        database = tmp_path / "test.sqlite3"
        # With its mode, 0600, as the app made it: a copy readable by others would be warned about at start.
        shutil.copy(sqlite_template, database)
        database_url = f"sqlite:///{database}"
    app = create_app({**_test_config(database_url, tmp_path), **extra})
    if request.param == "postgresql":
        with app.app_context():
            _empty_postgresql()
            seed_incident_types()
            db.session.commit()
    with app.app_context():
        limiter.reset()  # memory:// counts outlive the app that made them; the database's are new already
    yield app
    with app.app_context():
        db.session.remove()
        _assert_derived_data_true()
        _assert_audit_trail_holds(request)
        db.session.remove()
        db.engine.dispose()


def _assert_derived_data_true() -> None:
    """After every test, whatever it did: the derived data is what a rebuild from the incidents gives.

    The range columns feed filters, lists and totals; the map's rollup the map; the stored records the JSON
    export. One left stale by any road that writes (forms, API, imports, merges, source or type edits) would
    show outdated facts, so every test checks all three, on SQLite and on PostgreSQL.
    """
    if not sa.inspect(db.engine).has_table("incident_records"):
        return  # a test of migrations left an older schema
    problems = derived.check(db.session.connection(), limit=10)
    assert not problems, "derived data out of date:\n" + "\n".join(problems)


def _assert_audit_trail_holds(request: pytest.FixtureRequest) -> None:
    """After every test (but those that tamper with it on purpose): the audit trail's hash chain holds."""
    if request.node.get_closest_marker("tampers_with_audit_trail"):
        return
    if not sa.inspect(db.engine).has_table("audit_entries"):
        return
    found = audit.verify(db.session.connection())
    assert found.ok, f"the audit trail is broken at entry {found.broken_at}: {found.problem}"


def _empty_postgresql() -> None:
    """Every row deleted and every sequence back at 1: what TRUNCATE … RESTART IDENTITY gives, in a fifth of
    the time for the few rows a test writes (TRUNCATE makes new files for every table and index)."""
    with db.engine.begin() as connection:
        for table in reversed(db.metadata.sorted_tables):
            connection.execute(table.delete())
        # The job queue's (incidents.jobs.queue): a job queued by one test is not taken by another's worker.
        # With its schema on the path, as its connections have it: its triggers name its tables unqualified.
        connection.execute(sa.text(f"SET LOCAL search_path TO {queue.SCHEMA}"))
        connection.execute(sa.text("DELETE FROM procrastinate_jobs"))
        connection.execute(sa.text("SET LOCAL search_path TO DEFAULT"))
        connection.execute(
            sa.text(
                "SELECT setval(c.oid, 1, false) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind = 'S' AND n.nspname = current_schema()"
            )
        )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """factories.create_user for this app: make_user(email="editor@example.org", role=Role.EDITOR)."""
    return functools.partial(factories.create_user, app)


@pytest.fixture
def editor_client(client: FlaskClient, make_user: Callable[..., User]) -> FlaskClient:
    user = make_user("editor@example.org", Role.EDITOR)
    response = login(client, user.email)
    assert response.status_code == 302, response.data
    return client


@pytest.fixture
def admin_client(app: Flask, make_user: Callable[..., User]) -> FlaskClient:
    client = app.test_client()
    user = make_user("admin@example.org", Role.ADMIN)
    assert login(client, user.email).status_code == 302
    return client


@pytest.fixture
def incident_defaults() -> dict[str, Any]:
    """Fields every incident of add_incident has, over factories.INCIDENT; a test module may override it."""
    return {}


@pytest.fixture
def add_incident(app: Flask, incident_defaults: dict[str, Any]) -> Callable[..., int]:
    """factories.add_incident for this app: add_incident(title, **fields), over incident_defaults."""
    return functools.partial(factories.add_incident, app, **incident_defaults)


@pytest.fixture
def demo(runner: FlaskCliRunner) -> None:
    """The demo data set loaded, published."""
    factories.load_demo(runner)


@pytest.fixture
def token(app: Flask, make_user: Callable[..., User]) -> str:
    """An editor's API token (api@example.org)."""
    return factories.create_api_token(app, make_user("api@example.org"))

"""Deployment defaults that cannot go wrong quietly: ENVIRONMENT's values, production's secret key and public
address, and the modes of the files the app makes (the secret key, the SQLite database, caches, uploads).

The start-up refusals that came first (debug, no secret key, password hashing) are in tests/test_security.py.
"""

from __future__ import annotations

import io
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from incidents import create_app
from incidents.config import ConfigurationError
from incidents.extensions import db
from incidents.geocoding import index_cache
from incidents.importing.mapping import ColumnMapping
from incidents.jobs import create_job
from tests.factories import PRODUCTION_SETTINGS

PRODUCTION = {**PRODUCTION_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No INCIDENTS_* or DATABASE_URL variable but INCIDENTS_INSTANCE_PATH, a folder not made yet; the usual
    umask 022, under which a file made without a mode is readable by every account. The instance path."""
    for name in list(os.environ):
        if name.startswith("INCIDENTS_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    monkeypatch.setenv("INCIDENTS_INSTANCE_PATH", str(instance))
    monkeypatch.chdir(tmp_path)
    umask = os.umask(0o022)
    try:
        yield instance
    finally:
        os.umask(umask)


def _disposed(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# -- ENVIRONMENT ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["Production", " PRODUCTION ", "production\n"])
def test_environment_is_read_in_any_case(spelling: str) -> None:
    app = create_app({**PRODUCTION, "ENVIRONMENT": spelling})
    assert app.config["ENVIRONMENT"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_environment_from_the_variable_in_any_case(bare: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCIDENTS_ENVIRONMENT", " Production ")
    with pytest.raises(ConfigurationError, match="production without SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    monkeypatch.setenv("INCIDENTS_ENVIRONMENT", "Development")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["ENVIRONMENT"] == "development"


@pytest.mark.parametrize("value", ["prod", "staging", "testing", "", None])
def test_any_other_environment_is_refused_naming_the_values(value: Any) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app({**PRODUCTION, "ENVIRONMENT": value})
    assert f"ENVIRONMENT: {value!r} is not one of development, production" in str(refused.value)


def test_a_development_app_starts_with_no_settings(bare: Path) -> None:
    app = create_app()
    try:
        assert app.config["ENVIRONMENT"] == "development"
        assert app.config["SECRET_KEY"] == (bare / "secret_key").read_text()
        assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{bare / 'incidents.sqlite3'}"
        response = app.test_client().get("/login")
        assert response.status_code == 200
        assert "Strict-Transport-Security" not in response.headers
    finally:
        _disposed(app)


# -- production: the secret key and the public address -------------------------------------------------------


@pytest.mark.parametrize("key", ["k" * 31, "é" * 15 + "k", "test-secret-key", b"k" * 31])
def test_production_refuses_a_secret_key_under_32_bytes(key: str | bytes) -> None:
    with pytest.raises(ConfigurationError) as refused:
        create_app({**PRODUCTION, "SECRET_KEY": key})
    message = str(refused.value)
    assert "SECRET_KEY of" in message and "32 or more" in message
    assert 'python -c "import secrets; print(secrets.token_urlsafe(48))"' in message


@pytest.mark.parametrize("key", ["k" * 32, "é" * 16, b"k" * 32])
def test_production_takes_a_secret_key_of_32_bytes(key: str | bytes) -> None:
    assert create_app({**PRODUCTION, "SECRET_KEY": key}).config["SECRET_KEY"] == key


def test_a_short_secret_key_is_still_fine_in_development() -> None:
    app = create_app({"SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == "short"


def test_production_needs_the_public_address() -> None:
    with pytest.raises(ConfigurationError, match="production without PUBLIC_BASE_URL.*Host header"):
        create_app({**PRODUCTION, "PUBLIC_BASE_URL": None})


def test_production_needs_https_but_on_localhost() -> None:
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL http://incidents.example.org/.*https"):
        create_app({**PRODUCTION, "PUBLIC_BASE_URL": "http://incidents.example.org/"})
    for url in ("http://localhost:5000/", "http://127.0.0.1:8000", "http://[::1]/", "https://x.org/db/"):
        assert create_app({**PRODUCTION, "PUBLIC_BASE_URL": url}).config["PUBLIC_BASE_URL"] == url


@pytest.mark.parametrize(
    "url",
    [
        "incidents.example.org",
        "/incidents",
        "ftp://example.org/",
        "https://",
        "https://x.org/?a=1",
        "https://[",
    ],
)
@pytest.mark.parametrize("environment", ["development", "production"])
def test_a_public_address_that_is_no_address_is_refused_everywhere(url: str, environment: str) -> None:
    with pytest.raises(ConfigurationError, match="PUBLIC_BASE_URL: .* is not the absolute http"):
        create_app({**PRODUCTION, "ENVIRONMENT": environment, "PUBLIC_BASE_URL": url})


# -- file modes ----------------------------------------------------------------------------------------------


def test_instance_files_are_the_owners_only(bare: Path) -> None:
    """The instance folder, the secret key and the SQLite database, and its WAL after `flask db upgrade`."""
    app = create_app()
    try:
        assert _mode(bare) == 0o700
        assert _mode(bare / "secret_key") == 0o600
        database = bare / "incidents.sqlite3"
        assert _mode(database) == 0o600
        result = app.test_cli_runner().invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            assert db.session.scalar(sa.text("SELECT count(*) FROM incident_types")) > 0
            assert {path.name: _mode(path) for path in bare.iterdir()} == {
                "secret_key": 0o600,
                "incidents.sqlite3": 0o600,
                "incidents.sqlite3-wal": 0o600,
                "incidents.sqlite3-shm": 0o600,
            }
    finally:
        _disposed(app)


@pytest.mark.parametrize("where", ["absolute", "relative"])
def test_a_sqlite_database_elsewhere_is_made_the_owners_only(bare: Path, tmp_path: Path, where: str) -> None:
    """DATABASE_URL to a folder not there yet: made 0700; a relative path is in the instance folder."""
    if where == "absolute":
        database = tmp_path / "data" / "incidents.sqlite3"
        url = f"sqlite:///{database}"
    else:
        database, url = bare / "data" / "db.sqlite3", "sqlite:///data/db.sqlite3"
    app = create_app({"SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": url})
    try:
        assert _mode(database.parent.parent) == _mode(database.parent) == 0o700
        assert _mode(database) == 0o600
        with app.app_context():
            assert Path(db.engine.url.database or "") == database
            db.create_all()
    finally:
        _disposed(app)
    assert _mode(database) == 0o600


def test_an_existing_database_others_can_read_is_named_not_changed(
    bare: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bare.mkdir()
    database = bare / "incidents.sqlite3"
    database.touch(mode=0o644)
    with caplog.at_level(logging.WARNING, logger="incidents.private_files"):
        _disposed(create_app({"SECRET_KEY": "t"}))
    assert f"{database} can be read or written by other accounts" in caplog.text
    assert f"chmod 600 {database}" in caplog.text
    assert _mode(database) == 0o644  # the operator's file: named, never changed behind their back
    caplog.clear()
    database.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="incidents.private_files"):
        _disposed(create_app({"SECRET_KEY": "t"}))
    assert caplog.text == ""


def test_the_gazetteer_cache_is_the_owners_only(bare: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x\n")
    codec: index_cache.Codec[list[int]] = index_cache.Codec(pack=tuple, unpack=list)
    index_cache.save(bare, "test", data, codec, [1, 2])
    assert index_cache.load(bare, "test", data, codec) == [1, 2]
    assert _mode(bare) == 0o700
    assert _mode(index_cache.file_for(bare, "test")) == 0o600


def test_an_upload_waiting_for_its_import_is_the_owners_only(bare: Path, tmp_path: Path) -> None:
    folder = tmp_path / "imports"
    settings = {"SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": "sqlite://", "IMPORT_FOLDER": str(folder)}
    app = create_app(settings)
    with app.app_context():
        job = create_job(
            io.BytesIO(b"title\nx\n"), filename="x.csv", owner_id=1, options={}, mapping=ColumnMapping()
        )
    assert _mode(folder) == 0o700
    assert _mode(folder / job.token) == 0o700
    assert {path.name: _mode(path) for path in (folder / job.token).iterdir()} == {
        "upload": 0o600,
        "job.json": 0o600,
    }


@pytest.mark.parametrize("grid", [0, -0.1, 10.5, float("nan"), "0.1"])
def test_a_location_grid_that_cannot_coarsen_is_refused_at_start(grid: object) -> None:
    with pytest.raises(ConfigurationError, match="LOCATION_GRID_DEGREES"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "LOCATION_GRID_DEGREES": grid})


def test_the_location_grid_comes_from_the_environment_and_is_checked(
    bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCIDENTS_LOCATION_GRID_DEGREES", "0.25")
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["LOCATION_GRID_DEGREES"] == 0.25
    monkeypatch.setenv("INCIDENTS_LOCATION_GRID_DEGREES", "ten km")
    with pytest.raises(ConfigurationError, match="INCIDENTS_LOCATION_GRID_DEGREES: 'ten km' is not a number"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"})


@pytest.mark.parametrize("seconds", [0, -1, 601, float("nan"), "5", True])
def test_a_busy_timeout_that_is_not_a_number_of_seconds_is_refused_at_start(seconds: object) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_BUSY_TIMEOUT"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "DATABASE_BUSY_TIMEOUT": seconds})


@pytest.mark.parametrize("count", [-1, 11, "1", True, 1.5])
def test_a_proxy_count_that_is_not_a_number_of_proxies_is_refused_at_start(count: object) -> None:
    with pytest.raises(ConfigurationError, match="PROXY_COUNT"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "PROXY_COUNT": count})

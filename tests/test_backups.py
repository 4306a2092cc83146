"""`flask backup` and `flask restore`: a consistent, checked copy taken while the app writes, and a restore
into an empty database that refuses a damaged file and gives back the same public export."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from flask_migrate import upgrade

from incidents import audit, create_app, derived
from incidents.config import normalise_database_url
from incidents.extensions import db
from incidents.services.backups import BackupError, postgresql
from tests.factories import DRAFT_TITLE, add_hostile_and_draft, add_incident, load_demo
from tests.helpers import checksum, counts, export_json


def _kind(app: Flask) -> str:
    return "sqlite" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "postgresql"


@pytest.fixture
def kind(app: Flask) -> str:
    """The app's kind of database; PostgreSQL tests are skipped, saying why, without its client programs."""
    found = _kind(app)
    if found == "postgresql":
        try:
            postgresql.tool("pg_dump")
            postgresql.tool("pg_restore")
        except BackupError as error:
            pytest.skip(str(error))
    return found


def _app_on(database_url: str) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PASSWORD_HASH_PROFILE": "CHEAPEST",
            "TILE_URL": "",
        }
    )


@pytest.fixture
def empty_app(kind: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on a new, empty database of the app fixture's kind: a new SQLite file, or a PostgreSQL database
    made for the test (with a random name, by the role of TEST_DATABASE_URL) and dropped after it."""
    if kind == "sqlite":
        target = _app_on(f"sqlite:///{tmp_path / 'restored.sqlite3'}")
        yield target
        with target.app_context():
            db.engine.dispose()
        return
    admin_url = normalise_database_url(os.environ["TEST_DATABASE_URL"])
    name = f"incidents_restore_{secrets.token_hex(4)}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        target = _app_on(sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False))
        yield target
        with target.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _backup(runner: FlaskCliRunner, path: Path) -> dict[str, Any]:
    """`flask backup PATH`, which must succeed; its manifest, read back."""
    result = runner.invoke(args=["backup", str(path)])
    assert result.exit_code == 0, result.output
    manifest: dict[str, Any] = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    return manifest


def _restore(app: Flask, path: Path, *options: str) -> Result:
    return app.test_cli_runner().invoke(args=["restore", str(path), *options])


def _public_checksum(app: Flask) -> tuple[int, str]:
    """The count and checksum of /export.json as the public gets it."""
    document = export_json(app.test_client())
    return int(document["header"]["count"]), checksum(document)


def _tables(app: Flask) -> list[str]:
    with app.app_context(), db.engine.connect() as connection:
        return sa.inspect(connection).get_table_names()


def _refused(result: Result) -> str:
    """The message of a command refused as it should be: exit status 1, a message, no traceback."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.output


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_backup_is_checked_and_its_manifest_holds_the_live_public_checksum(
    app: Flask, runner: FlaskCliRunner, demo: None, kind: str, tmp_path: Path
) -> None:
    add_hostile_and_draft(app)  # a draft: in the backup, not in the public export
    path = tmp_path / "incidents.backup"
    manifest = _backup(runner, path)
    count, live = _public_checksum(app)
    assert manifest["public_export"]["checksum"] == {"algorithm": "sha256", "value": live}
    assert manifest["public_export"]["count"] == count == 12
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["size"] == path.stat().st_size
    assert manifest["database"] == kind
    assert manifest["file"] == path.name
    assert manifest["audit_trail"]["holds"] is True
    assert manifest["audit_trail"]["entries"] > 0
    taken = dt.datetime.fromisoformat(manifest["created_at"])
    assert abs(dt.datetime.now(dt.UTC) - taken) < dt.timedelta(minutes=5)
    # the tests' schema is made without the migrations; a migrated one is at its revision (below)
    assert manifest["alembic_revision"] is None
    if kind == "sqlite":
        assert manifest["verified"].startswith("PRAGMA integrity_check: ok")
    else:
        assert manifest["verified"].startswith("pg_restore --list:")
    # only the app's account may read either file, whatever the umask
    assert _mode(path) == _mode(Path(f"{path}.json")) == 0o600
    assert not list(tmp_path.glob("*.partial"))


def test_backup_during_writes_restores_to_the_export_of_its_moment(
    app: Flask, runner: FlaskCliRunner, demo: None, empty_app: Flask, tmp_path: Path
) -> None:
    """Incidents are published, one after another, by another thread on its own connection while the
    backups are taken: each backup and its manifest are one moment, which the restore gives back."""
    written: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def write() -> None:
        number = 0
        try:
            while not stop.is_set():
                day = dt.date(1990, 1, 1) + dt.timedelta(days=40 * number)  # far apart: no duplicate flags
                add_incident(app, f"Published during the backup {number}", start_date=day.isoformat())
                number += 1
                written.append(number)
        except BaseException as error:  # noqa: BLE001 - reported in the test's own thread
            errors.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    overlapped = None
    try:
        while len(written) < 2 and not errors:
            time.sleep(0.01)
        # Backups until one had incidents committed while it ran (most do): that one is restored.
        for attempt in range(10):
            before = len(written)
            path = tmp_path / f"during-writes-{attempt}.backup"
            manifest = _backup(runner, path)
            if len(written) > before:
                overlapped = path, manifest, before
                break
        after = len(written)
        while len(written) < after + 2 and not errors:
            time.sleep(0.01)  # more written once it was taken, too
    finally:
        stop.set()
        writer.join(60)
    assert not errors, errors
    assert overlapped is not None, "no backup was taken while incidents were being written"
    path, manifest, before = overlapped
    recorded = manifest["public_export"]["count"], manifest["public_export"]["checksum"]["value"]
    assert 11 + before <= recorded[0] < 11 + len(written)
    assert _public_checksum(app)[0] == 11 + len(written)  # the writes went on after the backup

    result = _restore(empty_app, path)
    assert result.exit_code == 0, result.output
    assert "as when the backup was taken" in result.output
    assert _public_checksum(empty_app) == recorded
    _assert_whole(empty_app)


def _assert_whole(app: Flask) -> None:
    """The restored database's derived data (stored records, map cells, ranges) and audit trail hold."""
    with app.app_context():
        connection = db.session.connection()
        problems = derived.check(connection, limit=10)
        trail = audit.verify(connection)
        db.session.rollback()
    assert not problems, problems
    assert trail.ok, trail.problem


def test_a_restored_database_is_the_one_backed_up_whole(
    app: Flask, runner: FlaskCliRunner, demo: None, empty_app: Flask, tmp_path: Path
) -> None:
    """Drafts, staff fields, accounts, the audit trail: all of it, not only what the public sees."""
    add_hostile_and_draft(app)
    path = tmp_path / "whole.backup"
    manifest = _backup(runner, path)
    result = _restore(empty_app, path)
    assert result.exit_code == 0, result.output
    assert manifest["sha256"] in result.output
    assert counts(empty_app) == counts(app)
    assert _public_checksum(empty_app) == _public_checksum(app)
    with empty_app.app_context():
        titles = set(db.session.scalars(sa.text("SELECT title FROM incidents")))
    assert DRAFT_TITLE in titles
    _assert_whole(empty_app)
    # The restored database takes new writes: its keys go on from where the backup's were.
    add_incident(empty_app, "Written after the restore", start_date="2024-02-01")
    assert _public_checksum(empty_app)[0] == manifest["public_export"]["count"] + 1


def _flip_a_byte(path: Path) -> None:
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))


def _truncate(path: Path) -> None:
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (_flip_a_byte, "does not match its manifest"),
        (_truncate, "truncated"),
    ],
    ids=["one-byte-flipped", "truncated"],
)
def test_a_damaged_backup_is_refused_and_the_database_left_empty(
    runner: FlaskCliRunner,
    demo: None,
    empty_app: Flask,
    tmp_path: Path,
    damage: Callable[[Path], None],
    said: str,
) -> None:
    path = tmp_path / "damaged.backup"
    _backup(runner, path)
    damage(path)
    output = _refused(_restore(empty_app, path))
    assert said in output and "Nothing was restored" in output
    assert _tables(empty_app) == []


def test_a_backup_without_its_manifest_is_not_restored(
    runner: FlaskCliRunner, demo: None, empty_app: Flask, tmp_path: Path
) -> None:
    path = tmp_path / "lone.backup"
    _backup(runner, path)
    moved = tmp_path / "elsewhere.json"
    Path(f"{path}.json").rename(moved)
    assert "No manifest at" in _refused(_restore(empty_app, path))
    assert _tables(empty_app) == []
    # given where it is, the manifest serves
    result = _restore(empty_app, path, "--manifest", str(moved))
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_database_that_is_not_empty(
    app: Flask, runner: FlaskCliRunner, demo: None, kind: str, tmp_path: Path
) -> None:
    path = tmp_path / "again.backup"
    _backup(runner, path)
    add_incident(app, "Written after the backup", start_date="2024-02-01")
    before = counts(app), _public_checksum(app)
    output = _refused(runner.invoke(args=["restore", str(path)]))
    assert "is not empty" in output and "Nothing was restored" in output
    assert (counts(app), _public_checksum(app)) == before


def test_restore_says_when_the_export_differs_from_the_manifest(
    runner: FlaskCliRunner, demo: None, empty_app: Flask, tmp_path: Path
) -> None:
    """The file matches its manifest, but the manifest's checksum is not the data's: exit status 1."""
    path = tmp_path / "other.backup"
    manifest = _backup(runner, path)
    recorded = manifest["public_export"]["checksum"]["value"]
    manifest["public_export"]["checksum"]["value"] = "0" * 64
    Path(f"{path}.json").write_text(json.dumps(manifest), encoding="utf-8")
    output = _refused(_restore(empty_app, path))
    assert f"checksum {recorded}" in output and "the manifest says 11 with " + "0" * 64 in output


def test_backup_goes_to_instance_backups_and_never_replaces_a_file(
    app: Flask, runner: FlaskCliRunner, demo: None, kind: str, tmp_path: Path
) -> None:
    app.instance_path = str(tmp_path / "instance")
    result = runner.invoke(args=["backup"])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "instance" / "backups"
    (taken,) = [path for path in folder.iterdir() if not path.name.endswith(".json")]
    assert taken.name.startswith("incidents-") and taken.suffix == (
        ".sqlite3" if kind == "sqlite" else ".dump"
    )
    assert _mode(folder) == 0o700 and _mode(taken) == 0o600
    assert str(taken) in result.output
    # a folder given: a timestamped file in it; a new one when the path ends with a slash
    given = tmp_path / "given"
    given.mkdir()
    assert runner.invoke(args=["backup", str(given)]).exit_code == 0
    assert len(list(given.glob("incidents-*.json"))) == 1
    assert runner.invoke(args=["backup", f"{tmp_path}/new/folder/"]).exit_code == 0
    assert len(list((tmp_path / "new" / "folder").glob("incidents-*.json"))) == 1
    assert _mode(tmp_path / "new") == _mode(tmp_path / "new" / "folder") == 0o700
    # an existing file is never replaced
    existing = tmp_path / "existing.backup"
    existing.write_bytes(b"keep me")
    assert "exists already" in _refused(runner.invoke(args=["backup", str(existing)]))
    assert existing.read_bytes() == b"keep me"
    assert not Path(f"{existing}.json").exists()


def test_a_migrated_database_records_its_revision_and_restores_at_it(
    kind: str, empty_app: Flask, tmp_path: Path
) -> None:
    """Built by the migrations (the tests' databases are made by create_all), a database's backup names its
    Alembic revision, and the database restored from it is at that revision."""
    # On PostgreSQL the empty database is migrated and backed up, not restored into (one a test).
    source = _app_on(f"sqlite:///{tmp_path / 'migrated.sqlite3'}") if kind == "sqlite" else empty_app
    with source.app_context():
        upgrade()
        head = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        db.session.remove()
    load_demo(source.test_cli_runner())
    path = tmp_path / "migrated.backup"
    manifest = _backup(source.test_cli_runner(), path)
    assert manifest["alembic_revision"] == head
    if kind == "sqlite":
        result = _restore(empty_app, path)
        assert result.exit_code == 0, result.output
        with empty_app.app_context():
            assert db.session.scalar(sa.text("SELECT version_num FROM alembic_version")) == head
            db.session.remove()
        with source.app_context():
            db.engine.dispose()


def test_a_backup_is_not_restored_into_another_kind_of_database(
    app: Flask, runner: FlaskCliRunner, demo: None, kind: str, tmp_path: Path
) -> None:
    """A PostgreSQL dump into SQLite is refused; so is a SQLite file whose manifest says PostgreSQL."""
    path = tmp_path / "kind.backup"
    manifest = _backup(runner, path)
    if kind == "sqlite":
        manifest["database"] = "postgresql"
        Path(f"{path}.json").write_text(json.dumps(manifest), encoding="utf-8")
    target = _app_on(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    output = _refused(_restore(target, path))
    assert "cannot be restored there" in output and "Nothing was restored" in output
    assert _tables(target) == []


def test_postgresql_without_pg_dump_says_what_to_install(
    app: Flask, runner: FlaskCliRunner, kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kind != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL only")
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs"))
    monkeypatch.setattr(postgresql, "BIN_FOLDERS", str(tmp_path / "no-postgresql" / "*" / "bin"))
    output = _refused(runner.invoke(args=["backup", str(tmp_path / "never.dump")]))
    assert "pg_dump was not found" in output and "postgresql-client" in output
    assert list(tmp_path.glob("never*")) == []

"""An import lets saves through while it reads, checks and writes a file, and still lands whole or not at all
(issue 15). On SQLite its rows are staged in a scratch file and moved into the database in one short
transaction at the end (services.imports.staging); on PostgreSQL rows are locked one by one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from incidents import create_app
from incidents.extensions import db
from incidents.models import Incident
from incidents.services.imports import bulk_writer, importer, staging
from tests.factories import add_incident, load_demo
from tests.helpers import FIXTURES, counts, database_sound, empty_the_database, export_file, run_import

UCDP = FIXTURES / "ucdp_ged.csv"


def _after_first_batch(monkeypatch: pytest.MonkeyPatch, action: Callable[[], None]) -> list[int]:
    """Run action once, right after the import has written its first batch (one row a batch): while the
    import is under way. The sizes of the batches written, as a list that fills as the import goes."""
    monkeypatch.setattr(importer, "CHUNK", 1)
    real = bulk_writer.BulkWriter.write
    batches: list[int] = []

    def write(self: bulk_writer.BulkWriter, batch: list[Any]) -> list[int]:
        ids = real(self, batch)
        batches.append(len(ids))
        if len(batches) == 1:
            action()
        return ids

    monkeypatch.setattr(bulk_writer.BulkWriter, "write", write)
    return batches


def _save_in_another_instance(app: Flask, title: str) -> int:
    """A colleague's save through the services, in another instance of the app (another worker) that waits
    at most a fifth of a second for the database: it goes through only if the import keeps no lock it
    needs. The new incident's id."""
    other = create_app({**app.config, "DATABASE_BUSY_TIMEOUT": 0.2})
    saved: list[int] = []
    failed: list[BaseException] = []

    def save() -> None:
        try:
            saved.append(add_incident(other, title))
        except BaseException as error:  # raised again below, in the test's thread
            failed.append(error)
        finally:
            with other.app_context():
                db.engine.dispose()

    thread = threading.Thread(target=save)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return saved[0]


def _stage_files(app: Flask) -> list[Path]:
    """The scratch files of imports beside the database (SQLite)."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    return sorted(Path(url.database).parent.glob(".import-stage-*"))


def test_a_save_goes_through_while_a_file_is_imported(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[int] = []
    batches = _after_first_batch(
        monkeypatch, lambda: saved.append(_save_in_another_instance(app, "Saved meanwhile"))
    )
    result = run_import(runner, UCDP)
    assert result.exit_code == 0, result.output
    assert len(batches) > 1  # the save came between two of the import's batches
    with app.app_context():
        assert db.session.get(Incident, saved[0]).title == "Saved meanwhile"
        imported = sa.select(sa.func.count()).select_from(Incident).where(Incident.external_id.is_not(None))
        assert db.session.scalar(imported) == sum(batches)
    assert _stage_files(app) == []
    database_sound(app)


STAGED_ON_SQLITE_ONLY = pytest.mark.sqlite_only(
    "imports are staged on SQLite only: on PostgreSQL an import is one transaction of its own"
)


@STAGED_ON_SQLITE_ONLY
def test_a_public_id_taken_meanwhile_leaves_the_whole_import_out(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(runner)
    document = export_file(runner, tmp_path / "demo.json")
    records = document["incidents"]
    assert isinstance(records, list)
    wanted = records[0]["id"]  # the public id the file gives its first incident, kept where free
    empty_the_database(app)
    colleague = add_incident(app, "A colleague's incident")
    before = counts(app)
    with app.app_context():
        path = str(db.engine.url.database)

    def take_it() -> None:
        # No save gives a chosen public id: a colleague's change made by hand, on a connection that waits
        # a fifth of a second at most for the write lock.
        other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            other.execute("UPDATE incidents SET public_id = ? WHERE id = ?", (wanted, colleague))
        finally:
            other.close()

    _after_first_batch(monkeypatch, take_it)
    result = run_import(runner, tmp_path / "demo.json")
    assert result.exit_code == 1, result.output
    assert "nothing was imported. Import the file again." in result.output
    assert counts(app) == before
    assert _stage_files(app) == []
    monkeypatch.undo()
    rebuilt = runner.invoke(args=["records", "--rebuild"])  # the colleague's record, changed by hand
    assert rebuilt.exit_code == 0, rebuilt.output
    database_sound(app)
    # Run again, the import finds that public id taken, gives its incident a fresh one, and lands whole.
    again = run_import(runner, tmp_path / "demo.json")
    assert again.exit_code == 0, again.output
    assert counts(app)["incidents"] == before["incidents"] + len(records)
    with app.app_context():
        assert db.session.get(Incident, colleague).public_id == wanted


@STAGED_ON_SQLITE_ONLY
def test_an_id_taken_meanwhile_leaves_the_whole_import_out(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(app)
    # No headroom: the import draws its ids right past the largest, where the next save's goes too.
    monkeypatch.setattr(staging, "ID_HEADROOM", 0)
    saved: list[int] = []
    _after_first_batch(monkeypatch, lambda: saved.append(_save_in_another_instance(app, "Saved meanwhile")))
    result = run_import(runner, UCDP)
    assert result.exit_code == 1, result.output
    assert "nothing was imported. Import the file again." in result.output
    with app.app_context():
        assert db.session.scalars(sa.select(Incident.title)).all() == ["Saved meanwhile"]
    assert counts(app)["incidents"] == before["incidents"] + 1
    assert _stage_files(app) == []
    database_sound(app)


@STAGED_ON_SQLITE_ONLY
def test_a_stage_left_by_a_killed_import_is_removed_by_the_next(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context():
        folder = Path(str(db.engine.url.database)).parent
    gone = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603 - our interpreter
    gone.wait()
    abandoned = folder / f".import-stage-{gone.pid}-{'0' * 32}.sqlite"
    abandoned.write_bytes(b"rows of an import killed half-way")
    running = folder / f".import-stage-{os.getppid()}-{'1' * 32}.sqlite"  # a live process's: still in use
    running.write_bytes(b"rows of an import under way")
    result = run_import(runner, UCDP)
    assert result.exit_code == 0, result.output
    assert not abandoned.exists()
    assert running.exists()
    running.unlink()
    # And the import's connection, back in the pool, has its stage detached.
    with app.app_context(), db.engine.connect() as connection:
        attached = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
    assert staging.SCHEMA not in attached

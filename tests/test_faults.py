"""kill -9 in the middle of writing: of the app during saves, of an import during its writes (and on SQLite
while it moves its staged rows into the database). After it, the database passes its integrity check, the
audit chain verifies, every save that was answered 201 is there and whole, and the import is absent: the
public export's checksum is the one before it (issue 15).

The worker killed mid-import, with PostgreSQL's queue, is in test_job_queue."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from bench.import_bench import generate
from incidents.extensions import db
from incidents.models import Citation
from tests import servers
from tests.factories import api_incident
from tests.helpers import checksum, counts, database_checks, export_json, public_ids


def test_the_app_killed_during_saves_loses_no_save_it_answered(
    app: Flask, token: str, tmp_path: Path
) -> None:
    settings = servers.on_database(app, tmp_path / "instance")
    answered: list[tuple[int, Any]] = []
    stop = threading.Event()
    numbers = itertools.count()

    def save_until_stopped(address: str) -> None:
        while not stop.is_set():
            number = next(numbers)
            body = api_incident(title=f"Save {number} before the crash", status="draft")
            answered.append(servers.post_json(address, "/api/v1/incidents", body, token))

    served = servers.gunicorn(settings, tmp_path / "server.log", workers=2)
    with served as (address, server), ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(save_until_stopped, address)
        servers.wait_for(lambda: sum(status == 201 for status, _ in answered) >= 40, 120, "40 saves")
        servers.kill(server)  # in the middle of saves: 8 of them run at any moment
        stop.set()
    saved = [body["id"] for status, body in answered if status == 201]
    assert {status for status, _ in answered} <= {201, 0}, "a save was refused or failed before the crash"
    assert any(status == 0 for status, _ in answered), "no save was cut by the kill"
    assert set(saved) <= public_ids(app), "a save answered 201 is not in the database"
    database_checks(app)
    with app.app_context():
        # Whole: each has its one citation, made in the same transaction.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Citation)) == len(public_ids(app))


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.csv"
    generate(path, 6000, 11)
    return path


def _moving_in(app: Flask) -> bool:
    """Whether the import holds the database's write lock (a writer cannot begin): on SQLite, from the
    moment it moves its staged rows in to its commit (services.imports.staging)."""
    with app.app_context():
        probe = sqlite3.connect(str(db.engine.url.database), timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def _writing(app: Flask) -> bool:
    """Whether the import has begun to write: on SQLite, rows are in its stage (a scratch file beside the
    database); on PostgreSQL its connection holds a row-exclusive lock on incidents."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            folder = Path(str(db.engine.url.database)).parent
            return any(path.stat().st_size > 0 for path in folder.glob(".import-stage-*.sqlite"))
        query = sa.text(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE c.relname = 'incidents' AND l.mode = 'RowExclusiveLock' AND a.pid <> pg_backend_pid()"
        )
        with db.engine.connect() as connection:
            return bool(connection.scalar(query))


@pytest.fixture
def imported_before(app: Flask, demo: None) -> Iterator[dict[str, Any]]:
    yield {"counts": counts(app), "checksum": checksum(export_json(app.test_client()))}


@pytest.mark.parametrize(
    "moment",
    [
        "writing",
        pytest.param(
            "moving in",
            marks=pytest.mark.sqlite_only("only SQLite stages imports"),
        ),
    ],
)
def test_an_import_killed_mid_write_leaves_nothing(
    app: Flask, imported_before: dict[str, Any], big_file: Path, tmp_path: Path, moment: str
) -> None:
    settings = servers.on_database(app, tmp_path / "instance")
    command = ["-m", "flask", "--app", "incidents", "import", str(big_file), "--publish", "--no-geocode"]
    importer = servers.start(command, settings, tmp_path / "import.log")
    try:
        if moment == "writing":
            servers.wait_for(lambda: _writing(app), 120, "the import to write")
            time.sleep(1)  # well into it: the 6,000 rows take several seconds to read, check and write
        else:
            # The move and what follows it hold the lock for about half a second: killed as soon as seen.
            servers.wait_for(lambda: _moving_in(app) or importer.poll() is not None, 120, "the move", 0.005)
        assert importer.poll() is None, "the import ended before it could be killed: make the file larger"
    finally:
        servers.kill(importer)
    assert counts(app) == imported_before["counts"]
    assert checksum(export_json(app.test_client())) == imported_before["checksum"]
    database_checks(app)

"""Two app processes on one database, 40 API saves at once, and an import running meanwhile: every save is
answered 201 and is in the database, and the import is whole (issue 15). On SQLite the saves take turns on
the one write lock with each other and with the import; on PostgreSQL, two instances."""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from bench.import_bench import generate
from incidents.extensions import db
from incidents.models import Incident
from tests import servers
from tests.factories import api_incident
from tests.helpers import database_checks, public_ids

SAVES = 160
WRITERS = 40
IMPORTED = 6000
BUSY_TIMEOUT = 1.0


def test_two_processes_forty_writers_and_an_import_lose_nothing(
    app: Flask, token: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="not yet: on SQLite an import holds the write lock from its first write to its commit "
                "(it is not written in chunks), so saves that wait longer than twice DATABASE_BUSY_TIMEOUT "
                "are answered 503",
            )
        )
    rows = tmp_path / "events.csv"
    generate(rows, IMPORTED, 3)
    importer_settings = servers.on_database(app, tmp_path / "importer")
    command = ["-m", "flask", "--app", "incidents", "import", str(rows), "--no-geocode"]
    # A save waits a second for a lock, and is tried again for about two: a busy database is answered
    # within seconds, and an import must not keep saves waiting longer than that.
    web = {"INCIDENTS_DATABASE_BUSY_TIMEOUT": str(BUSY_TIMEOUT)}
    first = servers.gunicorn(servers.on_database(app, tmp_path / "a", **web), tmp_path / "a.log", threads=8)
    second = servers.gunicorn(servers.on_database(app, tmp_path / "b", **web), tmp_path / "b.log", threads=8)
    with first as (address_a, _), second as (address_b, _):
        importer = servers.start(command, importer_settings, tmp_path / "import.log")
        try:

            def save(number: int) -> tuple[int, object]:
                body = api_incident(title=f"Save {number} among many", status="draft")
                return servers.post_json((address_a, address_b)[number % 2], "/api/v1/incidents", body, token)

            with ThreadPoolExecutor(WRITERS) as pool:
                answers = list(pool.map(save, range(SAVES)))
            assert importer.wait(300) == 0, (tmp_path / "import.log").read_text(errors="replace")
        finally:
            if importer.poll() is None:
                servers.kill(importer)
    statuses = collections.Counter(status for status, _ in answers)
    assert statuses == {201: SAVES}, statuses
    saved = {body["id"] for _, body in answers if isinstance(body, dict)}
    assert len(saved) == SAVES and saved <= public_ids(app)
    with app.app_context():
        imported = sa.select(sa.func.count()).select_from(Incident).where(Incident.external_id.is_not(None))
        assert db.session.scalar(imported) == IMPORTED
    database_checks(app)

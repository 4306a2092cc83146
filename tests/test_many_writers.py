"""Two app processes on one database, 40 API saves at once, and an import running meanwhile: every save is
answered 201 and is in the database, and the import is whole (issue 15). On SQLite the saves take turns on
the one write lock with each other, and the import takes it only to move its staged rows in at the end
(services.imports.staging); on PostgreSQL, two instances."""

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
# Enough rows that the import runs longer than the saves (about 15 s against 5 on the 2-core machine):
# written straight into a SQLite database, they kept the write lock for that long, and 16 saves in 160 were
# answered 503.
IMPORTED = 20000


def test_two_processes_forty_writers_and_an_import_lose_nothing(
    app: Flask, token: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    rows = tmp_path / "events.csv"
    generate(rows, IMPORTED, 3)
    importer_settings = servers.on_database(app, tmp_path / "importer")
    command = ["-m", "flask", "--app", "incidents", "import", str(rows), "--no-geocode"]
    # The instances wait for a lock as configured by default (DATABASE_BUSY_TIMEOUT, 5 s, and tried again
    # for about twice that before a 503).
    first = servers.gunicorn(servers.on_database(app, tmp_path / "a"), tmp_path / "a.log", threads=8)
    second = servers.gunicorn(servers.on_database(app, tmp_path / "b"), tmp_path / "b.log", threads=8)
    with first as (address_a, _), second as (address_b, _):
        importer = servers.start(command, importer_settings, tmp_path / "import.log")
        try:

            def save(number: int) -> tuple[int, object]:
                body = api_incident(title=f"Save {number} among many", status="draft")
                return servers.post_json((address_a, address_b)[number % 2], "/api/v1/incidents", body, token)

            with ThreadPoolExecutor(WRITERS) as pool:
                answers = list(pool.map(save, range(SAVES)))
            assert importer.poll() is None, "the import ended before the saves: they did not run beside it"
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

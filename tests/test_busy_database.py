"""A database busy with another's write: a save waits, is tried again, and at worst answers 503 with
Retry-After, saving nothing and keeping the typed text; reads go on; never a 500 (issue 15)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.extensions import db
from incidents.models import ApiToken, Incident
from tests.factories import api_incident, juliaca_form
from tests.helpers import api_url, database_held, page

PROBLEM = "application/problem+json"
# Short, so that a save gives up in well under a second; the retry test sets its own.
pytestmark = pytest.mark.app_config({"DATABASE_BUSY_TIMEOUT": 0.2})

# What every table holds: a failed save must leave all of it as it was, down to the audit trail.
Snapshot = dict[str, list[tuple[Any, ...]]]


def snapshot(app: Flask) -> Snapshot:
    with app.app_context():
        return {
            table.name: sorted((tuple(row) for row in db.session.execute(sa.select(table))), key=repr)
            for table in db.metadata.sorted_tables
        }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_busy_problem(response: Any) -> None:
    assert response.status_code == 503, response.data
    assert response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "1"  # the busy timeout, 0.2 s, in whole seconds
    problem = response.json
    assert problem["status"] == 503 and problem["type"].endswith("/busy")
    assert "nothing was saved" in problem["detail"]


def test_a_form_save_on_a_busy_database_answers_503_keeps_the_text_and_saves_nothing(
    app: Flask, editor_client: FlaskClient
) -> None:
    form = juliaca_form(title="Busy-day killings at the bridge", narrative="Typed while the database is busy")
    before = snapshot(app)
    with database_held(app):
        started = time.monotonic()
        response = editor_client.post("/incidents/new", data=form)
        waited = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    text = response.get_data(as_text=True)
    assert "Nothing was saved." in text and "save it again in a few seconds" in text
    for typed in (form["title"], form["narrative"], form["confidential_notes"], "Juliaca: 18 muertos"):
        assert typed in text
    assert snapshot(app) == before
    # It waited for the lock (two attempts of 0.2 s), and gave up within a few times the busy timeout.
    assert 0.3 < waited < 5

    # The same form, sent again once the database is free, is saved.
    saved = editor_client.post("/incidents/new", data=form)
    assert saved.status_code == 302, saved.data
    with app.app_context():
        assert db.session.scalar(sa.select(Incident.title)) == form["title"]


def test_an_edit_on_a_busy_database_answers_503_and_the_incident_is_as_it_was(
    app: Flask, editor_client: FlaskClient
) -> None:
    assert editor_client.post("/incidents/new", data=juliaca_form()).status_code == 302
    with app.app_context():
        incident_id = db.session.scalar(sa.select(Incident.id))
        assert incident_id is not None
    url = page(app, incident_id, "/edit")
    before = snapshot(app)
    edited = juliaca_form(title="Corrected while the database was busy", version="1")
    with database_held(app):
        response = editor_client.post(url, data=edited)
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"
    assert "Corrected while the database was busy" in response.get_data(as_text=True)
    assert snapshot(app) == before


def test_api_saves_on_a_busy_database_answer_a_503_problem_and_save_nothing(
    app: Flask, client: FlaskClient, token: str
) -> None:
    created = client.post("/api/v1/incidents", json=api_incident(), headers=bearer(token))
    assert created.status_code == 201, created.data
    with app.app_context():
        incident_id = db.session.scalar(sa.select(Incident.id))
        assert incident_id is not None
    before = snapshot(app)
    replacement = api_incident(title="Replaced while the database was busy", version=1)
    with database_held(app):
        assert_busy_problem(client.post("/api/v1/incidents", json=api_incident(), headers=bearer(token)))
        assert_busy_problem(client.put(api_url(app, incident_id), json=replacement, headers=bearer(token)))
        source = {"title": "A source sent while the database was busy", "kind": "press"}
        assert_busy_problem(client.post("/api/v1/sources", json=source, headers=bearer(token)))
    assert snapshot(app) == before
    replaced = client.put(api_url(app, incident_id), json=replacement, headers=bearer(token))
    assert replaced.status_code == 200, replaced.data
    assert replaced.json["title"] == "Replaced while the database was busy"


def test_reads_go_on_while_the_database_is_busy_and_note_the_tokens_use_later(
    app: Flask, client: FlaskClient, token: str
) -> None:
    """An API read whose token's last use is due to be written neither waits for the lock nor fails for it."""
    before = snapshot(app)
    with database_held(app):
        started = time.monotonic()
        listing = client.get("/api/v1/incidents", headers=bearer(token))
        waited = time.monotonic() - started
        assert client.get("/incidents/").status_code == 200
    assert listing.status_code == 200, listing.data
    assert waited < 0.2  # less than the busy timeout: it did not wait for the lock
    assert snapshot(app) == before  # the use was not written while the database was busy
    assert client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(ApiToken.last_used_at)) is not None


def test_any_other_write_on_a_busy_database_answers_a_503_page(
    app: Flask, editor_client: FlaskClient
) -> None:
    before = snapshot(app)
    with database_held(app):
        response = editor_client.post("/account/tokens", data={"name": "laptop"})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "Nothing was saved." in response.get_data(as_text=True)
    assert snapshot(app) == before


@pytest.mark.app_config({"DATABASE_BUSY_TIMEOUT": 1.0})
def test_a_save_that_outwaits_one_busy_timeout_is_tried_again_and_saved(
    app: Flask, client: FlaskClient, token: str
) -> None:
    """The lock is freed after 1.5 s: past the first attempt's wait (1 s), within the second's."""
    client.get("/api/v1/sources", headers=bearer(token))  # the token's use noted: the save alone waits
    with database_held(app) as release:
        timer = threading.Timer(1.5, release)
        timer.start()
        started = time.monotonic()
        created = client.post("/api/v1/incidents", json=api_incident(), headers=bearer(token))
        waited = time.monotonic() - started
        timer.join()
    assert created.status_code == 201, created.data
    assert waited >= 1.5
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1


def test_every_connection_waits_the_busy_timeout_for_a_lock(app: Flask) -> None:
    with app.app_context(), db.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
        else:
            assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "200ms"

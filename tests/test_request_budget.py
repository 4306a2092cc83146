"""The time budget of a request's queries (incidents.query_budget, web.budget): a public search past it is
answered 503 "narrow it" with Retry-After, as a page or a problem, never a 500; a statement running past it
is stopped midway; accounts have their own budget; saves and streamed exports are not cut short (issue 15)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents import create_app, query_budget
from incidents.audit import COMMAND_LINE
from incidents.config import ConfigurationError
from incidents.exports import stored
from incidents.extensions import db
from incidents.models import Incident, Source
from incidents.query_budget import QueryBudgetExceeded
from incidents.services.sources import create_source
from incidents.services.transactions import commit_unit
from tests.factories import api_incident, juliaca_form
from tests.helpers import checksum, recomputed_checksum

PROBLEM = "application/problem+json"
# A budget every request has spent before its first query: deterministic, whatever the machine's speed.
SPENT = 1e-6
NARROW = "This search asks too much of the server"


def seconds_of(statement: str, app: Flask) -> float:
    """How long statement takes on this app's database, outside any budget."""
    with app.app_context():
        started = time.monotonic()
        db.session.execute(sa.text(statement))
        db.session.rollback()
        return time.monotonic() - started


def long_statement(app: Flask) -> str:
    """A statement that runs for several seconds on this database, in one go."""
    with app.app_context():
        backend = db.engine.dialect.name
    if backend == "postgresql":
        return "SELECT pg_sleep(8)"
    # Counting to 30 million in SQLite's virtual machine: some 15 s of one core here, never done in tests.
    return COUNT_TO_30_MILLION


def assert_too_costly_page(response: Any) -> None:
    assert response.status_code == 503, response.data
    assert response.headers["Retry-After"] == "30"
    text = response.get_data(as_text=True)
    assert NARROW in text and "Narrow it" in text
    assert "within 1e-06 seconds" in text


def assert_too_costly_problem(response: Any) -> None:
    assert response.status_code == 503, response.data
    assert response.mimetype == PROBLEM
    assert response.headers["Retry-After"] == "30"
    problem = response.json
    assert problem["type"].endswith("/too-costly") and problem["status"] == 503
    assert "Narrow it" in problem["detail"]


@pytest.mark.app_config({"PUBLIC_QUERY_BUDGET": SPENT})
def test_a_public_search_past_its_budget_is_a_503_page_saying_to_narrow_it(
    client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    add_incident("Killings at the Juliaca bridge")
    for url in ("/incidents/?q=Juliaca", "/?q=Juliaca", "/timeline", "/incidents/"):
        assert_too_costly_page(client.get(url))


@pytest.mark.app_config({"PUBLIC_QUERY_BUDGET": SPENT})
def test_public_reads_by_programs_past_the_budget_are_503_problems(
    client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    add_incident("Killings at the Juliaca bridge")
    for url in (
        "/api/v1/incidents?q=Juliaca",
        "/api/v1/sources",
        "/export.json?q=Juliaca",
        "/map/data.geojson",
    ):
        assert_too_costly_problem(client.get(url))


@pytest.mark.app_config({"PUBLIC_QUERY_BUDGET": SPENT})
def test_accounts_have_their_own_budget(
    app: Flask, editor_client: FlaskClient, token: str, add_incident: Callable[..., int]
) -> None:
    add_incident("Killings at the Juliaca bridge")
    page = editor_client.get("/incidents/?q=Juliaca")
    assert page.status_code == 200 and "Killings at the Juliaca bridge" in page.get_data(as_text=True)
    listed = app.test_client().get(
        "/api/v1/incidents?q=Juliaca", headers={"Authorization": f"Bearer {token}"}
    )
    assert listed.status_code == 200 and len(listed.json["incidents"]) == 1
    # ... which they run past as the public does.
    app.config["STAFF_QUERY_BUDGET"] = SPENT
    assert_too_costly_page(editor_client.get("/incidents/?q=Juliaca"))


@pytest.mark.app_config({"PUBLIC_QUERY_BUDGET": 0, "STAFF_QUERY_BUDGET": 0})
def test_a_budget_of_0_is_none(client: FlaskClient, add_incident: Callable[..., int]) -> None:
    add_incident("Killings at the Juliaca bridge")
    assert client.get("/incidents/?q=Juliaca").status_code == 200


def test_a_statement_running_past_the_budget_is_stopped_midway(app: Flask) -> None:
    """SQLite's progress handler, PostgreSQL's statement_timeout: the statement stops at the deadline, not
    when it would have ended, and the request can go on."""
    with app.test_request_context("/incidents/?q=x"):
        query_budget.start(0.3)
        started = time.monotonic()
        with pytest.raises(QueryBudgetExceeded):
            db.session.execute(sa.text(long_statement(app)))
        stopped_after = time.monotonic() - started
        db.session.rollback()
        query_budget.stop()
        assert db.session.scalar(sa.text("SELECT 1")) == 1
    assert 0.3 <= stopped_after < 3, stopped_after


def test_statements_after_the_budget_ends_run_in_full_in_the_same_transaction(app: Flask) -> None:
    """As an export's stream after its first batch (web.exports): the budget stopped, the transaction and the
    connection it acted on serve a statement longer than the budget was."""
    with app.app_context():
        postgresql = db.engine.dialect.name == "postgresql"
    slower = "SELECT pg_sleep(0.8)" if postgresql else COUNT_TO_2_MILLION
    with app.test_request_context("/export.json"):
        query_budget.start(0.3)
        assert db.session.scalar(sa.text("SELECT 1")) == 1
        query_budget.stop()
        started = time.monotonic()
        db.session.execute(sa.text(slower))
        assert time.monotonic() - started > 0.3
        db.session.rollback()
    # A connection back from the pool keeps nothing of a budget either.
    with app.app_context():
        started = time.monotonic()
        db.session.execute(sa.text(slower))
        assert time.monotonic() - started > 0.3


def test_a_budget_set_mid_transaction_stops_what_follows(app: Flask) -> None:
    """A transaction begun before the budget (the visitor's lookup) gets the budget at its next statement."""
    with app.test_request_context("/"):
        db.session.execute(sa.text("SELECT 1"))  # the transaction is open
        query_budget.start(0.3)
        with pytest.raises(QueryBudgetExceeded):
            db.session.execute(sa.text(long_statement(app)))
        db.session.rollback()
        query_budget.stop()


# Counting, a row at a time, in SQLite's virtual machine: about 2 s of one core here for 2 million.
COUNT_TO_2_MILLION = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) FROM c"
)
COUNT_TO_30_MILLION = COUNT_TO_2_MILLION.replace("2000000", "30000000")


def test_a_unit_of_work_is_never_cut_by_the_budget(app: Flask) -> None:
    """A save commits whole: commit_unit lifts the budget of the request it runs in, and gives it back."""
    with app.test_request_context("/incidents/"):
        query_budget.start(SPENT)
        raw = {"title": "Saved within a spent budget", "kind": "press"}
        source_id = commit_unit(lambda: create_source(raw, COMMAND_LINE).id)
        assert source_id
        with pytest.raises(QueryBudgetExceeded):
            db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
        query_budget.stop()
    with app.app_context():
        assert db.session.scalar(sa.select(Source.title)) == "Saved within a spent budget"


@pytest.mark.app_config({"PUBLIC_QUERY_BUDGET": SPENT, "STAFF_QUERY_BUDGET": SPENT})
def test_saves_have_no_budget(app: Flask, editor_client: FlaskClient, token: str) -> None:
    saved = editor_client.post("/incidents/new", data=juliaca_form(title="Saved with every budget spent"))
    assert saved.status_code == 302, saved.data
    created = app.test_client().post(
        "/api/v1/incidents",
        json=api_incident(title="Created with every budget spent"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.data
    with app.app_context():
        titles = set(db.session.scalars(sa.select(Incident.title)))
    assert titles == {"Saved with every budget spent", "Created with every budget spent"}


@pytest.mark.app_config({"PUBLIC_QUERY_BUDGET": 1.0})
def test_an_export_streams_past_its_budget_once_its_first_batch_is_read(
    client: FlaskClient, add_incident: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget covers the first batch, read before the download starts: the rest, read after the
    deadline, streams whole."""
    for n in range(4):
        add_incident(f"Killing number {n} at the bridge")
    monkeypatch.setattr(stored, "BATCH_SIZE", 1)  # a query per incident
    response = client.get("/export.json")
    assert response.status_code == 200 and response.is_streamed
    time.sleep(1.2)  # the budget is spent before the second batch is read
    document = json.loads(response.get_data())
    assert len(document["incidents"]) == 4
    assert checksum(document) == recomputed_checksum(document)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("PUBLIC_QUERY_BUDGET", -1),
        ("STAFF_QUERY_BUDGET", "fast"),
        ("PUBLIC_QUERY_BUDGET", 7200),
        ("STAFF_QUERY_BUDGET", True),
    ],
)
def test_a_budget_that_is_not_a_number_of_seconds_is_refused_at_start(setting: str, value: Any) -> None:
    with pytest.raises(ConfigurationError, match=f"^{setting}: .* is not a number of seconds from 0"):
        create_app(
            {"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": "sqlite://", setting: value}
        )

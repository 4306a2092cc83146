"""One road for every write: the form and the API obey the same rules, and derived data is kept in the open.

Every channel calls the services (incidents.services), which refresh the derived data explicitly
(incidents.derived): no listener on SQLAlchemy's Session class keeps anything behind the callers' backs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from marshmallow import ValidationError

import incidents
from incidents import derived
from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.models import DuplicateFlag, Incident, MapCell, User
from incidents.vocabulary import Role
from tests.factories import create_api_token, publish
from tests.helpers import (
    api_url,
    before_each_unit,
    id_of_public,
    login,
    page,
    public_id,
    save_from_another_process,
)


def _api_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Police fire on protesters near Juliaca airport",
        "types": ["killing"],
        "start_date": "2023-01-09",
        "date_precision": "day",
        "place_name": "Juliaca",
        "country": "PE",
        "latitude": -15.5,
        "longitude": -70.13333,
        "location_precision": "near",
        "verification_grade": "fair",
        "status": "draft",
        "citations": [
            {
                "source": {"title": "Peru: 17 dead in Juliaca clashes", "kind": "press"},
                "claims": [{"category": "killed", "low": 17}],
            }
        ],
    }
    body.update(fields)
    return body


def _form(body: dict[str, Any], **fields: str) -> dict[str, Any]:
    """The same incident as the entry form sends it."""
    form: dict[str, Any] = {
        name: str(body[name])
        for name in (
            "title",
            "start_date",
            "date_precision",
            "place_name",
            "country",
            "latitude",
            "longitude",
            "location_precision",
            "verification_grade",
            "status",
        )
    }
    form["types"] = body["types"]
    citation = body["citations"][0]
    form["citations-0-source-title"] = citation["source"]["title"]
    form["citations-0-source-kind"] = citation["source"]["kind"]
    form["citations-0-claims-0-category"] = "killed"
    form["citations-0-claims-0-low"] = str(citation["claims"][0]["low"])
    form["action"] = "save"
    form.update(fields)
    return form


# A second report of the same event: a day later, 3 km away.
_SECOND = {
    "title": "Juliaca: deaths at the airport protest",
    "start_date": "2023-01-10",
    "latitude": -15.473,
}


def _flags(app: Flask) -> list[tuple[int, int, int, float]]:
    with app.app_context():
        return [
            (f.incident_id, f.candidate_id, f.days_apart, round(f.distance_km or 0.0, 3))
            for f in db.session.scalars(sa.select(DuplicateFlag).order_by(DuplicateFlag.id))
        ]


def test_an_api_create_or_replace_flags_a_possible_duplicate_as_the_form_does(
    app: Flask, client: FlaskClient, token: str, make_user: Callable[..., User]
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    # Through the API: the first report, then the second.
    first = client.post("/api/v1/incidents", json=_api_body(), headers=auth)
    assert first.status_code == 201, first.data
    assert "X-Possible-Duplicates" not in first.headers
    second = client.post("/api/v1/incidents", json=_api_body(**_SECOND), headers=auth)
    assert second.status_code == 201, second.data
    first_public, second_public = first.json["id"], second.json["id"]
    assert second.headers["X-Possible-Duplicates"] == first_public
    first_id, second_id = id_of_public(app, first_public), id_of_public(app, second_public)
    [(incident_id, candidate_id, days, km)] = _flags(app)
    assert (incident_id, candidate_id, days) == (second_id, first_id, 1) and 2.5 < km < 3.5

    # A replace that moves a distant incident onto the same event flags it too.
    elsewhere = client.post(
        "/api/v1/incidents", json=_api_body(title="Lima", latitude=-12.05, longitude=-77.04), headers=auth
    )
    assert "X-Possible-Duplicates" not in elsewhere.headers
    elsewhere_id = id_of_public(app, elsewhere.json["id"])
    moved = client.put(
        api_url(app, elsewhere_id),
        json=_api_body(title="Juliaca, reported from Lima", start_date="2023-01-11", version=1),
        headers=auth,
    )
    assert moved.status_code == 200, moved.data
    assert moved.headers["X-Possible-Duplicates"] == f"{first_public}, {second_public}"
    api_flags = _flags(app)
    assert [(i, c, d) for i, c, d, _ in api_flags[1:]] == [
        (elsewhere_id, first_id, 2),
        (elsewhere_id, second_id, 1),
    ]

    # Through the form, the same two reports: the same flag, with the same distance and days.
    make_user("editor@example.org")
    assert login(client, "editor@example.org").status_code == 302
    client.post("/incidents/new", data=_form(_api_body()))
    saved = client.post("/incidents/new", data=_form(_api_body(**_SECOND)), follow_redirects=True)
    form_first, form_second = elsewhere_id + 1, elsewhere_id + 2
    assert f"Possible duplicate of incident {public_id(app, form_first)}" in saved.get_data(as_text=True)
    form_flag = [f for f in _flags(app) if f[0] == form_second]
    # The form's second report is a duplicate of all three earlier reports of the event; the pair of its own
    # is flagged exactly as the API's pair was.
    assert (form_second, form_first, 1, api_flags[0][3]) in form_flag


def test_a_missing_version_gets_the_same_answer_from_the_form_and_the_api(
    app: Flask, client: FlaskClient, token: str, make_user: Callable[..., User]
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    created = client.post("/api/v1/incidents", json=_api_body(), headers=auth)
    created_id = id_of_public(app, created.json["id"])
    url = api_url(app, created_id)
    by_api = client.put(url, json=_api_body(title="Blind overwrite"), headers=auth)
    make_user("editor@example.org")
    assert login(client, "editor@example.org").status_code == 302
    by_form = client.post(
        page(app, created_id, "/edit"), data=_form(_api_body(title="Blind overwrite"), version="")
    )
    assert by_api.status_code == by_form.status_code == 422
    assert by_api.json["errors"]["version"] == ["Give the version you read, so that no one's change is lost."]
    assert "Give the version you read, so that no one&#39;s change is lost." in by_form.get_data(as_text=True)
    with app.app_context():
        incident = db.session.get(Incident, created_id)
        assert incident is not None and (incident.title, incident.version) == (created.json["title"], 1)


def test_no_listener_on_a_session_keeps_derived_data() -> None:
    """Derived data is refreshed by the services, in the open: no module listens on sessions (the engine's
    connect listener, which sets SQLite's pragmas, is the only event listener the app registers)."""
    package = Path(incidents.__file__).parent
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("listen", "listens_for") and node.args:
                target = ast.unparse(node.args[0])
                assert "session" not in target.lower() and "Session" not in target, (path, target)


def test_the_after_test_check_finds_each_store_out_of_date(
    app: Flask, client: FlaskClient, token: str
) -> None:
    """The check every test ends with (tests/conftest.py) sees a stale range column, map cell or record."""
    auth = {"Authorization": f"Bearer {token}"}
    incident_id = id_of_public(
        app, client.post("/api/v1/incidents", json=_api_body(), headers=auth).json["id"]
    )
    with app.app_context():
        connection = db.session.connection()
        assert derived.check(connection) == []
        connection.execute(sa.update(Incident).values(killed_high=18))
        # The map's sums and the record are made from the range columns: they no longer agree either.
        problems = derived.check(connection)
        assert problems[0] == f"range columns of incident {incident_id} are not what its claims give"
        db.session.rollback()
        connection = db.session.connection()
        connection.execute(sa.update(MapCell).where(MapCell.level == 12).values(incident_count=2))
        [problem] = derived.check(connection)
        assert re.match(
            r"map cell \(12, <PublicationStatus.DRAFT: 'draft'>, \d+, \d+\): holds incident_count 2,", problem
        )
        db.session.rollback()
        connection = db.session.connection()
        connection.execute(sa.text("UPDATE incident_records SET content = :c"), {"c": b'{"id":1}'})
        assert derived.check(connection) == [
            f"stored record of incident {incident_id} is missing or out of date"
        ]
        db.session.rollback()


def test_a_relabelled_type_and_a_corrected_source_reach_every_record(
    app: Flask, client: FlaskClient, token: str, make_user: Callable[..., User]
) -> None:
    """The vocabulary and source services refresh the records of every incident they touch."""
    from incidents.models import IncidentType, Source
    from incidents.services.incident_types import relabel_incident_type
    from incidents.services.sources import update_source

    auth = {"Authorization": f"Bearer {token}"}
    one = client.post("/api/v1/incidents", json=_api_body(title="One"), headers=auth)
    cited = {
        "source_id": one.json["citations"][0]["source"]["id"],
        "claims": [{"category": "killed", "low": 17}],
    }
    two = client.post(
        "/api/v1/incidents",
        json=_api_body(title="Two", start_date="2023-02-09", citations=[cited]),
        headers=auth,
    )
    assert two.status_code == 201
    for public in (one.json["id"], two.json["id"]):
        publish(app, id_of_public(app, public))
    with app.app_context():
        killing = db.session.scalars(sa.select(IncidentType).where(IncidentType.slug == "killing")).one()
        relabel_incident_type(killing, {"label": "Unlawful killing"}, COMMAND_LINE)
        source = db.session.scalars(sa.select(Source)).first()
        assert source is not None
        update_source(source, {"title": "Peru: 17 killed in Juliaca", "kind": "press"}, COMMAND_LINE)
        db.session.commit()
    exported = client.get("/export.json").json["incidents"]
    assert len(exported) == 2
    for incident in exported:
        assert incident["types"] == [{"slug": "killing", "label": "Unlawful killing"}]
        assert {c["source"]["title"] for c in incident["citations"]} == {"Peru: 17 killed in Juliaca"}
    # A label another type has is refused, naming the field.
    with app.app_context():
        injury = db.session.scalars(sa.select(IncidentType).where(IncidentType.slug == "injury")).one()
        with pytest.raises(ValidationError) as refused:
            relabel_incident_type(injury, {"label": "unlawful KILLING"}, COMMAND_LINE)
        assert refused.value.messages == {"label": ["A type labelled 'unlawful KILLING' exists already."]}


def test_a_retraction_racing_a_save_is_a_conflict_not_a_server_error(
    app: Flask, client: FlaskClient, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from incidents.services import workflow

    token = create_api_token(app, make_user("reviewer@example.org", Role.REVIEWER))
    auth = {"Authorization": f"Bearer {token}"}
    incident_id = id_of_public(
        app, client.post("/api/v1/incidents", json=_api_body(), headers=auth).json["id"]
    )
    publish(app, incident_id)
    with app.app_context():
        version = db.session.get_one(Incident, incident_id).version
    from incidents.web.api import views

    def colleague_saves() -> None:
        # Another process commits a new version after the request read the incident.
        save_from_another_process(incident_id)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # On SQLite a save holds the write lock from its first read (BEGIN IMMEDIATE, services.transactions):
        # the colleague's save can only come before the retraction's transaction begins, which reads the
        # incident again, under the lock.
        before_each_unit(monkeypatch, views, colleague_saves)
    else:
        # On PostgreSQL it can come between the retraction's read and its UPDATE, whose version check sees it.
        real = workflow.before_change

        def colleague_saves_between(ids: Any) -> Any:
            colleague_saves()
            return real(ids)

        monkeypatch.setattr(workflow, "before_change", colleague_saves_between)
    body = {"reason": "a rumour", "version": version}
    response = client.delete(api_url(app, incident_id), json=body, headers=auth)
    assert response.status_code == 409, response.data
    assert f"now version {version + 1}" in response.json["detail"]
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        assert incident is not None and incident.status.value == "published"

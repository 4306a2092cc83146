"""Regressions found in review: lost updates, races, reserved parameters, dates at the calendar's ends,
NUL bytes, and figures that were silently cut."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.extensions import db
from incidents.models import Citation, Incident, Source, User
from tests.factories import juliaca_form
from tests.helpers import before_each_unit, id_of_public, login, page, save_from_another_process


def _create(app: Flask, editor_client: FlaskClient) -> int:
    location = editor_client.post("/incidents/new", data=juliaca_form()).headers["Location"]
    return id_of_public(app, location.rsplit("/", 1)[1])


def _existing_source_form(app: Flask, **overrides: str) -> dict[str, object]:
    with app.app_context():
        efe_id, correo_id = db.session.scalars(sa.select(Source.id).order_by(Source.id)).all()
    form = juliaca_form(**overrides)
    form.update({"citations-0-source_id": str(efe_id), "citations-1-source_id": str(correo_id)})
    for key in [k for k in form if "-source-" in k]:
        form[key] = ""
    return form


def test_a_citation_only_edit_moves_the_version_so_a_stale_save_is_refused(
    app: Flask, editor_client: FlaskClient
) -> None:
    incident_id = _create(app, editor_client)
    quote_edit = _existing_source_form(app, version="1", **{"citations-0-quote": "17 civilians killed."})
    assert editor_client.post(page(app, incident_id, "/edit"), data=quote_edit).status_code == 302
    stale = _existing_source_form(app, version="1", title="A stale title")
    response = editor_client.post(page(app, incident_id, "/edit"), data=stale)
    assert response.status_code == 409
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        assert incident is not None and incident.version == 2
        assert incident.title != "A stale title"
        quotes = db.session.scalars(sa.select(Citation.quote).where(Citation.incident_id == incident_id))
        assert "17 civilians killed." in list(quotes)


def test_an_edit_without_a_version_is_refused_not_an_overwrite(
    app: Flask, editor_client: FlaskClient
) -> None:
    incident_id = _create(app, editor_client)
    response = editor_client.post(
        page(app, incident_id, "/edit"), data=_existing_source_form(app, version="", title="Blind overwrite")
    )
    # Invalid input, as the API answers it (tests/test_api.py): no colleague's save is known to conflict.
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Blind overwrite" in html  # what was typed is kept
    assert "Give the version you read, so that no one&#39;s change is lost." in html
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        assert incident is not None and incident.title != "Blind overwrite" and incident.version == 1


def test_a_save_racing_a_colleague_is_a_conflict_not_a_server_error(
    app: Flask, editor_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident_id = _create(app, editor_client)
    from incidents.services import incidents as operations
    from incidents.web import incidents as views

    def colleague_saves() -> None:
        save_from_another_process(incident_id)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # On SQLite a save holds the write lock from its first read (BEGIN IMMEDIATE, services.transactions):
        # another process can commit only before our transaction begins, after the form was read.
        before_each_unit(monkeypatch, views, colleague_saves)
    else:
        # On PostgreSQL another process commits a new version between our check and our write.
        real_apply = operations._apply

        def colleague_saves_between(incident: Incident, data: dict[str, object], user: User | None) -> None:
            colleague_saves()
            real_apply(incident, data, user)

        monkeypatch.setattr(operations, "_apply", colleague_saves_between)
    response = editor_client.post(
        page(app, incident_id, "/edit"), data=_existing_source_form(app, version="1", title="Mine")
    )
    assert response.status_code == 409
    assert "Someone else saved this incident (now version 2)" in response.get_data(as_text=True)


@pytest.mark.parametrize("parameter", ["endpoint", "_anchor", "_scheme", "_method", "_external"])
def test_reserved_url_parameters_do_not_break_the_list(client: FlaskClient, parameter: str) -> None:
    response = client.get(f"/incidents/?{parameter}=x&q=Juliaca")
    assert response.status_code == 200
    assert not re.search(
        r'href="https?://', response.get_data(as_text=True).split("<main>")[1].split("<table")[0]
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [("start_date", "9999-12-31"), ("start_date", "0001-01-01"), ("end_date", "9999-12-01")],
)
def test_dates_at_the_ends_of_the_calendar_are_refused(
    editor_client: FlaskClient, field: str, value: str
) -> None:
    response = editor_client.post("/incidents/new", data=juliaca_form(**{field: value}))
    assert response.status_code == 422
    assert "Must be between 1800-01-01 and" in response.get_data(as_text=True)


def test_timeline_and_filters_refuse_absurd_dates(client: FlaskClient) -> None:
    assert client.get("/timeline?date_to=9999-12-31").status_code == 400
    assert client.get("/incidents/?date_from=0001-01-01").status_code == 400


def test_nul_in_login_email_is_a_wrong_login(client: FlaskClient, make_user: Callable[..., User]) -> None:
    make_user("ana@example.org")
    response = login(client, "ana\x00@example.org")
    assert response.status_code == 401


def test_nul_in_incident_type_is_a_field_error(app: Flask, editor_client: FlaskClient) -> None:
    response = editor_client.post("/incidents/new", data=juliaca_form(types=["kill\x00ing"]))
    assert response.status_code == 422
    assert "Not an incident type." in response.get_data(as_text=True)


def test_fractional_figures_are_refused_not_truncated(editor_client: FlaskClient) -> None:
    body = {
        "title": "T",
        "types": ["killing"],
        "start_date": "2023-01-09",
        "date_precision": "day",
        "country": "PE",
        "location_precision": "country",
        "verification_grade": "weak",
        "citations": [
            {
                "source": {"title": "S", "kind": "press"},
                "claims": [{"category": "killed", "low": 2.9, "high": 7}],
            }
        ],
    }
    from marshmallow import ValidationError

    from incidents.schemas import IncidentInputSchema

    with editor_client.application.app_context(), pytest.raises(ValidationError) as caught:
        IncidentInputSchema().load(body)
    assert caught.value.messages_dict == {
        "citations": {0: {"claims": {0: {"low": ["Not a valid integer."]}}}}
    }
    body["citations"][0]["claims"][0]["low"] = 2.0  # type: ignore[index]
    with editor_client.application.app_context():
        assert IncidentInputSchema().load(body)["citations"][0]["claims"][0]["low"] == 2

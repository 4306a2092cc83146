"""Conditional requests on what the public reads of an incident: its page and its API record.

Every change that reaches what the public sees (the incident's edit, a source's, a location rule, a type's
label, a sensitivity mark, a retraction, a new release, a new day) gives a new ETag, so a revalidation
gets the new page, never a 304 that hides it; staff and visitors with something of their own on the page
never get an answer a shared cache may keep.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.audit import COMMAND_LINE
from incidents.exports import public_page
from incidents.extensions import db
from incidents.models import Incident, IncidentType, Source
from incidents.schemas.incident import incident_input
from incidents.services.incident_types import relabel_incident_type
from incidents.services.incidents import retract_incident, update_incident
from incidents.services.location_rules import add_rule
from incidents.services.sources import update_source
from incidents.web import conditional
from tests.factories import at_juliaca, killed
from tests.helpers import api_url, page


@pytest.fixture
def juliaca(add_incident: Callable[..., int]) -> int:
    """A published incident at a point in Juliaca, with one press report of 17 killed."""
    return add_incident("Killings in Juliaca", **at_juliaca(), citations=[killed(17, source="La República")])


def _fetch(client: FlaskClient, url: str, etag: str | None = None, **headers: str) -> Any:
    if etag is not None:
        headers["If-None-Match"] = etag
    return client.get(url, headers=headers)


def _edit(app: Flask, incident_id: int, **fields: Any) -> None:
    """A reviewer's correction of the published incident, through the service every channel uses."""
    with app.app_context():
        incident = db.session.get_one(Incident, incident_id)
        update_incident(incident, incident_input(incident) | fields, COMMAND_LINE, reason="a correction")
        db.session.commit()


def test_the_public_page_carries_validators_and_a_match_is_answered_304_without_a_body(
    app: Flask, client: FlaskClient, juliaca: int
) -> None:
    first = client.get(page(app, juliaca))
    assert first.status_code == 200 and "Killings in Juliaca" in first.get_data(as_text=True)
    etag = first.headers["ETag"]
    assert etag.startswith('"page-') and first.headers["Cache-Control"] == "public, no-cache"
    assert "Cookie" in first.headers["Vary"] and first.last_modified is not None
    again = _fetch(client, page(app, juliaca), etag)
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "public, no-cache"
    assert "Cookie" in again.headers["Vary"]
    # Weak comparison, as If-None-Match asks; one of several; "*" names any current page.
    assert _fetch(client, page(app, juliaca), "W/" + etag).status_code == 304
    assert _fetch(client, page(app, juliaca), f'"other", {etag}').status_code == 304
    assert _fetch(client, page(app, juliaca), "*").status_code == 304
    assert _fetch(client, page(app, juliaca), '"page-other"').status_code == 200
    assert client.head(page(app, juliaca), headers={"If-None-Match": etag}).status_code == 304


def test_if_modified_since_alone_never_gives_304(app: Flask, client: FlaskClient, juliaca: int) -> None:
    # A source's correction changes the page without changing a date the database keeps: only the ETag can
    # tell, so a date alone, even one after Last-Modified, gets the whole page.
    first = client.get(page(app, juliaca))
    later = first.headers["Last-Modified"]
    answer = _fetch(client, page(app, juliaca), **{"If-Modified-Since": later})
    assert answer.status_code == 200 and b"Killings in Juliaca" in answer.data


def test_an_edit_of_the_incident_gives_the_new_page(app: Flask, client: FlaskClient, juliaca: int) -> None:
    etag = client.get(page(app, juliaca)).headers["ETag"]
    _edit(app, juliaca, title="Killings in Juliaca, 9 January")
    answer = _fetch(client, page(app, juliaca), etag)
    assert answer.status_code == 200 and "Killings in Juliaca, 9 January" in answer.get_data(as_text=True)
    assert answer.headers["ETag"] != etag
    assert _fetch(client, page(app, juliaca), answer.headers["ETag"]).status_code == 304


def test_an_edit_of_a_source_it_cites_gives_the_new_page(
    app: Flask, client: FlaskClient, juliaca: int
) -> None:
    etag = client.get(page(app, juliaca)).headers["ETag"]
    with app.app_context():
        source = db.session.scalars(sa.select(Source).where(Source.title == "La República")).one()
        update_source(source, {"title": "La República (Lima)", "kind": "press"}, COMMAND_LINE)
        db.session.commit()
    answer = _fetch(client, page(app, juliaca), etag)
    assert answer.status_code == 200 and "La República (Lima)" in answer.get_data(as_text=True)


def test_a_new_type_label_gives_the_new_page(app: Flask, client: FlaskClient, juliaca: int) -> None:
    etag = client.get(page(app, juliaca)).headers["ETag"]
    with app.app_context():
        killing = db.session.scalars(sa.select(IncidentType).where(IncidentType.slug == "killing")).one()
        relabel_incident_type(killing, {"label": "Unlawful killing"}, COMMAND_LINE)
        db.session.commit()
    answer = _fetch(client, page(app, juliaca), etag)
    assert answer.status_code == 200 and "Unlawful killing" in answer.get_data(as_text=True)


def test_a_location_rule_and_a_sensitivity_mark_give_the_coarsened_page(
    app: Flask, client: FlaskClient, juliaca: int, add_incident: Callable[..., int]
) -> None:
    first = client.get(page(app, juliaca))
    assert "-15.5000, -70.1300" in first.get_data(as_text=True)
    with app.app_context():
        add_rule(
            {"kind": "region", "country": "PE", "admin1": "Puno", "grid_degrees": 0.5, "reason": "Reprisals"},
            COMMAND_LINE,
        )
        db.session.commit()
    coarsened = _fetch(client, page(app, juliaca), first.headers["ETag"])
    assert coarsened.status_code == 200
    text = coarsened.get_data(as_text=True)
    assert "-15.5000" not in text and "published coarsened" in text

    marked = add_incident(
        "Raid in Lima", place_name="Lima", admin1="Lima", latitude=-12.0464, longitude=-77.0428
    )
    etag = client.get(page(app, marked)).headers["ETag"]
    _edit(app, marked, location_sensitive=True, location_sensitive_reason="A witness lives here")
    answer = _fetch(client, page(app, marked), etag)
    assert answer.status_code == 200 and "-12.0464" not in answer.get_data(as_text=True)


def test_a_retracted_incident_is_not_found_whatever_the_client_holds(
    app: Flask, client: FlaskClient, juliaca: int
) -> None:
    etag = client.get(page(app, juliaca)).headers["ETag"]
    api_etag = client.get(api_url(app, juliaca)).headers["ETag"]
    with app.app_context():
        incident = db.session.get_one(Incident, juliaca)
        retract_incident(incident, COMMAND_LINE, reason="Not verified", version=incident.version)
        db.session.commit()
    gone = _fetch(client, page(app, juliaca), etag)
    assert gone.status_code == 404 and "ETag" not in gone.headers
    assert _fetch(client, api_url(app, juliaca), api_etag).status_code == 404


def test_a_new_release_and_a_new_day_give_new_etags(
    app: Flask, client: FlaskClient, juliaca: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = client.get(page(app, juliaca)).headers["ETag"]
    made = conditional.release()
    monkeypatch.setattr(conditional, "release", lambda: dataclasses.replace(made, digest="another release"))
    answer = _fetch(client, page(app, juliaca), etag)
    assert answer.status_code == 200 and answer.headers["ETag"] != etag
    # The citation line says the day it was read ("accessed …"): the next day's page is another page.
    with app.test_request_context(), app.app_context():
        public_id = db.session.get_one(Incident, juliaca).public_id
        published = public_page.published(public_id)
        assert published is not None
        today = dt.date(2026, 1, 1)
        tomorrow = today + dt.timedelta(days=1)
        assert conditional.page_validators(published, today) == conditional.page_validators(published, today)
        assert (
            conditional.page_validators(published, today).etag
            != conditional.page_validators(published, tomorrow).etag
        )


def test_staff_never_get_an_answer_a_shared_cache_may_keep(
    app: Flask, editor_client: FlaskClient, juliaca: int
) -> None:
    public = app.test_client().get(page(app, juliaca)).headers["ETag"]
    staff = _fetch(editor_client, page(app, juliaca), public)
    assert staff.status_code == 200 and "Confidential notes" in staff.get_data(as_text=True)
    assert staff.headers["Cache-Control"] == "no-store" and "ETag" not in staff.headers
    assert "Cookie" in staff.headers["Vary"]


def test_a_page_with_a_message_for_the_visitor_is_neither_shared_nor_304(
    app: Flask, client: FlaskClient, juliaca: int
) -> None:
    etag = client.get(page(app, juliaca)).headers["ETag"]
    with client.session_transaction() as session:
        session["_flashes"] = [("info", "You have been logged out.")]
    answer = _fetch(client, page(app, juliaca), etag)
    assert answer.status_code == 200 and "You have been logged out." in answer.get_data(as_text=True)
    assert answer.headers["Cache-Control"] == "no-store" and "ETag" not in answer.headers
    # Shown once: the next answer is the shared page again.
    assert _fetch(client, page(app, juliaca), etag).status_code == 304


def test_the_public_api_record_carries_validators_and_staff_tokens_get_none(
    app: Flask, client: FlaskClient, juliaca: int, token: str
) -> None:
    first = client.get(api_url(app, juliaca))
    assert first.status_code == 200 and first.json["title"] == "Killings in Juliaca"
    etag = first.headers["ETag"]
    assert etag.startswith('"api-') and first.headers["Cache-Control"] == "public, no-cache"
    assert "Authorization" in first.headers["Vary"]
    unchanged = _fetch(client, api_url(app, juliaca), etag)
    assert unchanged.status_code == 304 and unchanged.data == b""
    staff = _fetch(client, api_url(app, juliaca), etag, Authorization=f"Bearer {token}")
    assert staff.status_code == 200 and "confidential_notes" in staff.json
    assert staff.headers["Cache-Control"] == "no-store" and "ETag" not in staff.headers
    _edit(app, juliaca, title="Killings in Juliaca, 9 January")
    changed = _fetch(client, api_url(app, juliaca), etag)
    assert changed.status_code == 200 and changed.json["title"] == "Killings in Juliaca, 9 January"
    assert changed.headers["ETag"] != etag


def test_the_permalink_address_is_part_of_the_etag(app: Flask, client: FlaskClient, juliaca: int) -> None:
    # Without PUBLIC_BASE_URL the permalinks are built on the address asked: another host, another page.
    app.config["PUBLIC_BASE_URL"] = ""
    here = client.get(page(app, juliaca), base_url="http://one.example.org")
    there = _fetch(client, page(app, juliaca), here.headers["ETag"], Host="two.example.org")
    assert there.status_code == 200 and "http://two.example.org/incidents/" in there.get_data(as_text=True)

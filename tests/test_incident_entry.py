"""Researchers enter an incident with its sources and claims in one form; bad input is refused by field."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.extensions import db
from incidents.models import CasualtyClaim, Citation, Incident, Source
from tests.factories import juliaca_form, publish
from tests.helpers import id_of_public, page


def counts(app: Flask) -> tuple[int, int, int, int]:
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (Incident, Source, Citation, CasualtyClaim)
        )


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(name)}-error" role="alert">([^<]*)</p>', page)
    assert match, f"no error shown beside {name}"
    return match.group(1)


def test_create_incident_with_two_sources_shows_the_range(app: Flask, editor_client: FlaskClient) -> None:
    response = editor_client.post("/incidents/new", data=juliaca_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Killed: 17–18 (2 sources, best estimate 18)" in page
    assert "Injured: 33 (1 source)" in page
    assert "Peru: 17 dead in Juliaca clashes" in page and "Juliaca: 18 muertos" in page
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident))
        assert incident is not None
        assert incident.country == "PE"
        assert [t.slug for t in incident.types] == ["injury", "killing"]  # shown in label order
        assert incident.created_by is not None and incident.created_by.email == "editor@example.org"
        derived = (incident.killed_low, incident.killed_high, incident.injured_low, incident.detained_low)
        assert derived == (17, 18, 33, None)
        assert incident.source_count == 2
        claims = [
            (c.source.publisher, k.category.value, k.low, k.high)
            for c in incident.citations
            for k in c.claims
        ]
        assert claims == [
            ("EFE", "killed", 17, 17),
            ("Diario Correo", "killed", 18, 18),
            ("Diario Correo", "injured", 33, 33),
        ]


def test_figures_per_group_break_a_source_down_without_widening_the_range(
    app: Flask, editor_client: FlaskClient
) -> None:
    """Diario Correo: 18 dead, of whom 17 civilians and 1 police officer. EFE gives injured only per group
    (2 police officers and 30 protesters): a part of a breakdown, not a total beside Correo's 33."""
    form = juliaca_form(
        **{
            "citations-1-claims-2-category": "killed",
            "citations-1-claims-2-low": "17",
            "citations-1-claims-2-group": "civilians",
            "citations-1-claims-3-category": "killed",
            "citations-1-claims-3-low": "1",
            "citations-1-claims-3-group": "police officers",
            "citations-0-claims-1-category": "injured",
            "citations-0-claims-1-low": "2",
            "citations-0-claims-1-group": "police officers",
            "citations-0-claims-2-category": "injured",
            "citations-0-claims-2-low": "30",
            "citations-0-claims-2-group": "  protesters ",
        }
    )
    response = editor_client.post("/incidents/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    publish(app, id_of_public(app, location.rsplit("/", 1)[1]))
    page = app.test_client().get(location).get_data(as_text=True)
    assert "Killed: 17–18 (2 sources, best estimate 18)" in page  # not 1–18
    assert "of whom civilians: 17" in page and "of whom police officers: 1" in page
    assert "Injured: 33 (2 sources)" in page
    # Both sources are named: EFE's figures per group beside Correo's total, said not to make the range.
    assert (
        '2 police officers + 30 protesters according to <a href="#source-1">[1]</a> Peru: 17 dead in Juliaca '
        "clashes (figures per group only: not counted in the range)"
    ) in page
    assert "of whom protesters: 30" in page and "Injured, protesters: 30" in page  # the claim as given
    assert "18 according to" in page
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident))
        assert incident is not None
        ranges = (incident.killed_low, incident.killed_high, incident.injured_low, incident.injured_high)
        assert ranges == (17, 18, 33, 33)
        groups = [(k.category.value, k.low, k.group) for c in incident.citations for k in c.claims]
        assert groups == [
            ("killed", 17, ""),
            ("injured", 2, "police officers"),
            ("injured", 30, "protesters"),
            ("killed", 18, ""),
            ("injured", 33, ""),
            ("killed", 17, "civilians"),
            ("killed", 1, "police officers"),
        ]
    # The edit form gives the groups back as they were saved.
    form_page = editor_client.get(location + "/edit").get_data(as_text=True)
    assert 'name="citations-1-claims-3-group" type="text" value="police officers"' in form_page


def test_public_sees_published_incident_without_confidential_notes(
    app: Flask, editor_client: FlaskClient
) -> None:
    location = editor_client.post("/incidents/new", data=juliaca_form()).headers["Location"]
    publish(app, id_of_public(app, location.rsplit("/", 1)[1]))
    public = app.test_client()
    page = public.get(location).get_data(as_text=True)
    assert "Killed: 17–18" in page
    assert "Witness W-3" not in page
    assert "Witness W-3" in editor_client.get(location).get_data(as_text=True)


def test_drafts_are_invisible_to_the_public(app: Flask, editor_client: FlaskClient) -> None:
    location = editor_client.post("/incidents/new", data=juliaca_form(status="draft")).headers["Location"]
    public = app.test_client()
    assert public.get(location).status_code == 404
    assert "Juliaca" not in public.get("/incidents/").get_data(as_text=True)
    assert "Juliaca" in editor_client.get("/incidents/").get_data(as_text=True)


def test_latitude_95_comes_back_with_everything_typed(app: Flask, editor_client: FlaskClient) -> None:
    before = counts(app)
    response = editor_client.post("/incidents/new", data=juliaca_form(latitude="95"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, "latitude") == "Must be between -90 and 90 degrees."
    assert "Nothing was saved." in page
    assert '<li><a href="#latitude">latitude</a>: Must be between -90 and 90 degrees.</li>' in page
    for value in (
        'value="95"',
        'value="Police fire on protesters near Juliaca airport"',
        'value="-70.13333"',
        'value="Peru: 17 dead in Juliaca clashes"',
        'value="Diario Correo"',
        'value="33"',
        "Protesters marched on the Inca Manco Cápac airport.",
        "Witness W-3 asked not to be named.",
    ):
        assert value in page, value
    assert re.search(r'<option value="near" selected>', page)
    assert re.search(r'name="types" value="injury" checked', page)
    assert counts(app) == before


BAD_INPUT = [
    ({"end_date": "2023-01-01"}, "end_date", "Must not be before the start date (2023-01-09)."),
    ({"longitude": "200"}, "longitude", "Must be between -180 and 180 degrees."),
    ({"latitude": "south"}, "latitude", "Not a valid number."),
    ({"latitude": ""}, "latitude", "Give both latitude and longitude, or neither."),
    (
        {"citations-0-claims-0-low": "-3"},
        "citations-0-claims-0-low",
        "Must be a whole number from 0 to 2147483647.",
    ),
    ({"citations-0-claims-0-low": "2.5"}, "citations-0-claims-0-low", "Not a valid integer."),
    (
        {"citations-0-claims-0-high": "10"},
        "citations-0-claims-0-high",
        "Must not be below the low figure (17).",
    ),
    (
        {"citations-0-claims-0-group": "g" * 201},
        "citations-0-claims-0-group",
        "Must be at most 200 characters long (it is 201).",
    ),
    (
        {
            "citations-0-claims-1-category": "killed",
            "citations-0-claims-1-low": "15",
            "citations-0-claims-1-group": "civilians",
            "citations-0-claims-2-category": "killed",
            "citations-0-claims-2-low": "3",
            "citations-0-claims-2-group": "police officers",
        },
        "citations-0-claims-1-low",
        "The figures per group for killed add up to at least 18, more than this source's figure for the "
        "whole category (17 at most). Correct one of them, or give the larger figure for the whole category.",
    ),
    (
        {"citations-0-claims-1-group": "civilians"},  # a group typed on a row without category or figure
        "citations-0-claims-1-category",
        "Missing data for required field.",
    ),
    ({"types": ["killing", "teleportation"]}, "types", "Unknown incident type: teleportation."),
    ({"types": []}, "types", "Choose at least one incident type."),
    ({"start_date": "2023-02-30"}, "start_date", "Not a valid date."),
    ({"start_date": ""}, "start_date", "Missing data for required field."),
    ({"title": "x" * 301}, "title", "Must be at most 300 characters long (it is 301)."),
    ({"title": "   "}, "title", "Missing data for required field."),
    ({"title": "bad\x00byte"}, "title", "Contains control characters that are not allowed."),
    ({"country": "XX"}, "country", "'XX' is not an ISO 3166-1 alpha-2 country code (for example PE)."),
    ({"date_precision": "century"}, "date_precision", "Must be one of: day, span, week, month, year."),
    ({"best-killed": "40"}, "best-killed", "Must lie within the sources' range (17–18)."),
    ({"best-detained": "4"}, "best-detained", "No source gives a figure for detained."),
    (
        {"citations-0-source-url": "javascript:alert(1)"},
        "citations-0-source-url",
        "Not a valid http(s) address.",
    ),
    ({"citations-0-source-kind": ""}, "citations-0-source-kind", "Missing data for required field."),
    (
        {"citations-0-source_id": "99999"},
        "citations-0-source_id",
        "Give either an existing source or a new one, not both.",
    ),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT, ids=[f for _, f, _ in BAD_INPUT])
def test_bad_input_is_refused_beside_its_field(
    app: Flask, editor_client: FlaskClient, change: dict[str, Any], field: str, message: str
) -> None:
    before = counts(app)
    response = editor_client.post("/incidents/new", data=juliaca_form(**change))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field_error(page, field) == message.replace("'", "&#39;")
    assert 'value="Peru: 17 dead in Juliaca clashes"' in page
    assert counts(app) == before


def test_claim_without_a_source_is_refused(app: Flask, editor_client: FlaskClient) -> None:
    form = juliaca_form()
    for key in [k for k in form if k.startswith("citations-0-source-")]:
        form[key] = ""
    response = editor_client.post("/incidents/new", data=form)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "citations-0-source_id").startswith(
        "Choose an existing source or describe a new one"
    )
    assert counts(app) == (0, 0, 0, 0)


def test_unknown_existing_source_is_refused(app: Flask, editor_client: FlaskClient) -> None:
    form = juliaca_form(**{"citations-0-source_id": "99999"})
    for key in [k for k in form if k.startswith("citations-0-source-")]:
        form[key] = ""
    response = editor_client.post("/incidents/new", data=form)
    assert response.status_code == 422
    assert (
        field_error(response.get_data(as_text=True), "citations-0-source_id")
        == "There is no source with id 99999."
    )


def test_existing_source_is_reused(app: Flask, editor_client: FlaskClient) -> None:
    editor_client.post("/incidents/new", data=juliaca_form())
    with app.app_context():
        efe = db.session.scalar(sa.select(Source).where(Source.publisher == "EFE"))
        assert efe is not None
        efe_id = efe.id
    form = juliaca_form(title="Second incident", **{"citations-0-source_id": str(efe_id)})
    for key in [k for k in form if k.startswith("citations-0-source-")]:
        form[key] = ""
    response = editor_client.post("/incidents/new", data=form)
    assert response.status_code == 302
    assert counts(app)[:2] == (2, 3)  # two incidents, three sources: EFE was not duplicated


def test_add_citation_keeps_what_was_typed(editor_client: FlaskClient) -> None:
    response = editor_client.post("/incidents/new", data=juliaca_form(action="add_citation", latitude="95"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="citations-2-locator"' in page
    assert 'value="95"' in page and 'value="Juliaca: 18 muertos"' in page
    assert "field-error" not in page


def test_add_a_claim_row_to_one_block_keeps_what_was_typed(app: Flask, editor_client: FlaskClient) -> None:
    """A source's breakdown needs several claim rows in its block: "Add a claim row" gives one more there."""
    before = counts(app)
    # Block 0 left blank in the form is dropped; the button of block 2 (Diario Correo) still finds it.
    form = {key.replace("citations-1-", "citations-2-"): value for key, value in juliaca_form().items()}
    form = {key.replace("citations-0-", "citations-1-"): value for key, value in form.items()}
    form.update({"citations-0-locator": "", "citations-0-quote": "", "action": "add_claim-2"})
    response = editor_client.post("/incidents/new", data=form)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # Correo (now block 1) had claims 0 and 1: rows 2 and 3 are empty; EFE (block 0) has its one empty row.
    assert 'name="citations-1-claims-1-low" type="text" value="33"' in page
    for row in (2, 3):
        assert f'name="citations-1-claims-{row}-low" type="text" value=""' in page
    assert 'name="citations-1-claims-4-low"' not in page
    assert 'name="citations-0-claims-1-low" type="text" value=""' in page
    assert 'name="citations-0-claims-2-low"' not in page
    assert 'data-focus="citation-1"' in page
    assert "field-error" not in page and counts(app) == before

    # On a block with nothing typed yet but its kind and reliability: it stays where it is, as chosen.
    form.update({"citations-0-source-kind": "ngo_report", "citations-0-source-reliability": "B"})
    form["action"] = "add_claim-0"
    page = editor_client.post("/incidents/new", data=form).get_data(as_text=True)
    first = page[page.index('id="citation-0"') : page.index('id="citation-1"')]
    assert '<option value="ngo_report" selected>' in first and '<option value="B" selected>' in first
    assert 'name="citations-0-claims-1-low" type="text" value=""' in first
    assert 'name="citations-2-source-title"' in page and 'value="Juliaca: 18 muertos"' in page
    # A forged block number is no error: an empty block comes last.
    for forged in ("add_claim-abc", "add_claim-999999", "add_claim-"):
        form["action"] = forged
        assert editor_client.post("/incidents/new", data=form).status_code == 200
    assert counts(app) == before


def test_removed_citation_is_dropped(app: Flask, editor_client: FlaskClient) -> None:
    response = editor_client.post(
        "/incidents/new", data=juliaca_form(**{"citations-1-remove": "1", "best-killed": ""})
    )
    assert response.status_code == 302
    assert counts(app) == (1, 1, 1, 1)


def test_edit_replaces_content_and_keeps_history_fields(app: Flask, editor_client: FlaskClient) -> None:
    location = editor_client.post("/incidents/new", data=juliaca_form()).headers["Location"]
    incident_id = id_of_public(app, location.rsplit("/", 1)[1])
    form_page = editor_client.get(page(app, incident_id, "/edit")).get_data(as_text=True)
    assert 'name="version" value="1"' in form_page
    assert 'value="17"' in form_page
    with app.app_context():
        efe_id, correo_id = db.session.scalars(sa.select(Source.id).order_by(Source.id)).all()
    form = juliaca_form(title="Juliaca airport killings", version="1")
    form.update({"citations-0-source_id": str(efe_id), "citations-1-source_id": str(correo_id)})
    for key in [k for k in form if "-source-" in k]:
        form[key] = ""
    response = editor_client.post(page(app, incident_id, "/edit"), data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        assert incident is not None and incident.title == "Juliaca airport killings"
        assert incident.version == 2
        assert (incident.killed_low, incident.killed_high, incident.source_count) == (17, 18, 2)
    assert counts(app) == (1, 2, 2, 3)


def test_second_save_of_the_same_version_is_a_conflict(app: Flask, editor_client: FlaskClient) -> None:
    location = editor_client.post("/incidents/new", data=juliaca_form()).headers["Location"]
    incident_id = id_of_public(app, location.rsplit("/", 1)[1])
    first = editor_client.post(
        page(app, incident_id, "/edit"), data=juliaca_form(title="First editor's title", version="1")
    )
    assert first.status_code == 302
    second = editor_client.post(
        page(app, incident_id, "/edit"), data=juliaca_form(title="Second editor's title", version="1")
    )
    assert second.status_code == 409
    html = second.get_data(as_text=True)
    assert "Someone else saved this incident" in html
    assert "Second editor&#39;s title" in html
    with app.app_context():
        incident = db.session.get(Incident, incident_id)
        assert incident is not None and incident.title == "First editor's title"


def test_geocoding_without_javascript_fills_the_location(editor_client: FlaskClient) -> None:
    form = juliaca_form(
        action="geocode", admin1="", admin2="", latitude="", longitude="", location_precision=""
    )
    page = editor_client.post("/incidents/new", data=form).get_data(as_text=True)
    assert "Places found for “Juliaca”" in page
    match = re.search(r'value="(place-\d+)" class="link">Juliaca, San Roman, Puno, PE<', page)
    assert match, page
    chosen = editor_client.post("/incidents/new", data=dict(form, action=match.group(1))).get_data(
        as_text=True
    )
    assert 'value="-15.50000"' in chosen and 'value="-70.13333"' in chosen
    assert 'id="admin1" name="admin1" type="text" value="Puno"' in chosen
    assert '<option value="near" selected>' in chosen
    assert 'value="Peru: 17 dead in Juliaca clashes"' in chosen


def test_geocoding_with_a_bad_country_says_so(editor_client: FlaskClient) -> None:
    response = editor_client.post("/incidents/new", data=juliaca_form(action="geocode", country="Narnia"))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "is not a country code" in field_error(page, "country")
    assert editor_client.get("/incidents/geocode?q=Lima&country=Narnia").status_code == 400


def test_geocode_endpoint_for_the_form_script(editor_client: FlaskClient) -> None:
    response = editor_client.get("/incidents/geocode?q=Juliaca")
    assert response.status_code == 200
    first = response.get_json()["candidates"][0]
    assert (first["name"], first["admin1"], first["country"]) == ("Juliaca", "Puno", "PE")
    assert editor_client.get("/incidents/geocode?q=").status_code == 400


def test_public_cannot_create_or_edit(client: FlaskClient) -> None:
    assert client.post("/incidents/new", data=juliaca_form()).status_code in (302, 401)
    assert client.get("/incidents/1/edit").status_code == 302
    assert client.get("/incidents/k7q2m9x4ab3f/edit").status_code == 302

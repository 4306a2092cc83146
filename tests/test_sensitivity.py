"""Sensitive locations, location rules and confidential sources: what the public sees, and what staff see.

The crawl of every public output for leaks is tests/test_leaks.py; here, each rule and its bad input.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents import create_app
from incidents.domain.sensitivity import PublicLocation, check_grid, public_location, snap
from incidents.extensions import db
from incidents.models import AuditEntry, Incident, LocationRule, Source
from incidents.vocabulary import LocationPrecision
from tests.factories import juliaca_form
from tests.helpers import FIXTURES, api_url, export_json, page, run_import

# A point whose digits the coarsened point does not share: the 0.1° cell centre is (-13.65, -73.35).
TRUE_LAT, TRUE_LON = -13.6556123, -73.3872456
PUBLIC_LAT, PUBLIC_LON = -13.65, -73.35

SENSITIVE = {
    "place_name": "Chumbao village",
    "admin2": "Andahuaylas",
    "admin1": "Apurímac",
    "latitude": TRUE_LAT,
    "longitude": TRUE_LON,
    "location_precision": "exact",
    "location_sensitive": True,
    "location_sensitive_reason": "The survivor still lives here.",
}


# -- the policy itself ------------------------------------------------------------------------------------


def test_coarsening_snaps_to_the_cell_centre_lowers_precision_and_names_the_region() -> None:
    shown = public_location(
        latitude=TRUE_LAT,
        longitude=TRUE_LON,
        place_name="Chumbao village",
        admin1="Apurímac",
        admin2="Andahuaylas",
        precision=LocationPrecision.EXACT,
        grid=0.1,
    )
    assert (shown.latitude, shown.longitude) == (PUBLIC_LAT, PUBLIC_LON)
    assert shown.place_name == "Andahuaylas" and shown.precision == LocationPrecision.NEAR and shown.coarsened
    # Every point of a cell gives its centre: nothing is learnt by asking again, or by averaging answers.
    for latitude in (-13.6000001, -13.65, -13.6999999):
        assert snap(latitude, 0.1, -90, 90) == PUBLIC_LAT
    # Coarser grids lower the precision further; a coarse recorded precision is never raised.
    coarse = public_location(
        latitude=TRUE_LAT,
        longitude=TRUE_LON,
        place_name="",
        admin1="Apurímac",
        admin2="",
        precision=LocationPrecision.ADMIN1,
        grid=0.5,
    )
    assert coarse.precision == LocationPrecision.ADMIN1 and coarse.place_name == "Apurímac"
    assert public_location(
        latitude=1.0,
        longitude=2.0,
        place_name="x",
        admin1="",
        admin2="",
        precision=LocationPrecision.EXACT,
        grid=None,
    ) == PublicLocation(1.0, 2.0, "x", LocationPrecision.EXACT, coarsened=False)


@pytest.mark.parametrize("grid", [0, -0.1, 10.01, math.inf, math.nan, True, "0.1"])
def test_a_grid_that_cannot_coarsen_is_refused(grid: Any) -> None:
    with pytest.raises(ValueError, match="grid"):
        check_grid(grid)


# -- a sensitive incident, through every channel ------------------------------------------------------------


def test_marking_sensitive_without_a_reason_is_refused_naming_the_field_and_keeping_the_form(
    app: Flask, editor_client: FlaskClient
) -> None:
    form = juliaca_form(location_sensitive="yes", location_sensitive_reason="")
    response = editor_client.post("/incidents/new", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Say why the location is sensitive" in page
    assert 'name="location_sensitive" value="yes" checked' in page and "Juliaca" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0
    saved = editor_client.post(
        "/incidents/new",
        data=juliaca_form(location_sensitive="yes", location_sensitive_reason="A witness lives by the road."),
    )
    assert saved.status_code == 302
    with app.app_context():
        incident = db.session.scalars(sa.select(Incident)).one()
        assert incident.location_sensitive and incident.location_coarsened
        assert (incident.latitude, incident.longitude) == (-15.5, -70.13333)
        assert (incident.public_latitude, incident.public_longitude) == (-15.45, -70.15)


def test_the_api_refuses_a_sensitive_mark_without_reason_and_changes_nothing(
    app: Flask, client: FlaskClient, token: str
) -> None:
    body = _api_incident(location_sensitive=True)
    response = client.post("/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "location_sensitive_reason" in response.json["errors"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_the_public_sees_one_coarsened_point_everywhere_and_staff_the_true_one(
    app: Flask, editor_client: FlaskClient, token: str, add_incident: Callable[..., int]
) -> None:
    client = app.test_client()  # the public (editor_client is the client fixture, logged in)
    incident_id = add_incident("Detention visit", **SENSITIVE)
    public_page = client.get(page(app, incident_id)).get_data(as_text=True)
    assert "-13.6500, -73.3500" in public_page and "Chumbao" not in public_page.split("<h1>", 1)[1]
    assert "13.6556" not in public_page and "published coarsened" in public_page
    record = client.get(api_url(app, incident_id)).json
    assert (record["location"]["latitude"], record["location"]["longitude"]) == (PUBLIC_LAT, PUBLIC_LON)
    assert record["location"]["place_name"] == "Andahuaylas" and record["location"]["coarsened"] is True
    assert record["location"]["precision"] == "near"
    geojson = client.get("/export.geojson").json
    [feature] = geojson["features"]
    assert feature["geometry"]["coordinates"] == [PUBLIC_LON, PUBLIC_LAT]
    [row] = list(csv.DictReader(io.StringIO(client.get("/export.csv").get_data(as_text=True))))
    assert (float(row["latitude"]), float(row["longitude"])) == (PUBLIC_LAT, PUBLIC_LON)
    [exported] = export_json(client)["incidents"]
    assert exported["location"] == record["location"]
    # The map's own features, at a zoom where incidents are drawn one by one.
    bbox = "-74,-14,-73,-13"
    features = client.get(f"/map/data.geojson?bbox={bbox}&zoom=12").json["features"]
    assert [f["geometry"]["coordinates"] for f in features] == [[PUBLIC_LON, PUBLIC_LAT]]
    # An area around the true point but not the cell centre holds nothing for anyone: no narrowing in.
    tight = f"{TRUE_LON - 0.001},{TRUE_LAT - 0.001},{TRUE_LON + 0.001},{TRUE_LAT + 0.001}"
    assert client.get(f"/map/data.geojson?bbox={tight}&zoom=16").json["features"] == []
    # A search for the place's name finds nothing for the public; staff find it.
    assert "Detention visit" not in client.get("/incidents/?q=Chumbao").get_data(as_text=True)
    assert "Detention visit" in editor_client.get("/incidents/?q=Chumbao").get_data(as_text=True)
    staff_page = editor_client.get(page(app, incident_id)).get_data(as_text=True)
    assert "-13.6556, -73.3872" in staff_page and "The survivor still lives here." in staff_page
    staff = client.get(api_url(app, incident_id), headers={"Authorization": f"Bearer {token}"}).json
    assert staff["location"]["latitude"] == TRUE_LAT and staff["location"]["place_name"] == "Chumbao village"
    assert staff["location_sensitivity"]["sensitive"] is True
    assert staff["location_sensitivity"]["public"]["latitude"] == PUBLIC_LAT


def test_the_public_export_checksum_is_stable_with_coarsening(
    client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    add_incident("Detention visit", **SENSITIVE)
    add_incident("Curfew in Andahuaylas", admin1="Apurímac", latitude=-13.66, longitude=-73.39)
    first, second = export_json(client), export_json(client)
    assert first["header"]["checksum"] == second["header"]["checksum"]
    assert first["incidents"] == second["incidents"]


# -- location rules ------------------------------------------------------------------------------------------


def test_a_region_rule_coarsens_its_incidents_and_its_removal_needs_a_reason(
    app: Flask, admin_client: FlaskClient, client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    inside = add_incident("Raid in Puno", admin1="Puno", latitude=-15.8402, longitude=-70.0219)
    outside = add_incident("Raid in Lima", admin1="Lima", latitude=-12.0464, longitude=-77.0428)
    bad = admin_client.post(
        "/admin/location-rules",
        data={"kind": "region", "country": "PE", "admin1": "Puno", "grid_degrees": "0"},
    )
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "more than 0" in page and "Say why" in page and 'value="Puno"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(LocationRule)) == 0
    added = admin_client.post(
        "/admin/location-rules",
        data={
            "kind": "region",
            "country": "pe",
            "admin1": "puno ",
            "grid_degrees": "0.5",
            "reason": "Reprisals",
        },
    )
    assert added.status_code == 302
    record = client.get(api_url(app, inside)).json["location"]
    assert (record["latitude"], record["longitude"], record["coarsened"]) == (-15.75, -70.25, True)
    assert record["precision"] == "admin2"
    assert client.get(api_url(app, outside)).json["location"]["latitude"] == -12.0464
    with app.app_context():
        rule_id = db.session.scalars(sa.select(LocationRule.id)).one()
        operations = list(db.session.scalars(sa.select(AuditEntry.operation)))
    assert "location_rule.add" in operations
    refused = admin_client.post(f"/admin/location-rules/{rule_id}/remove", data={"reason": " "})
    assert refused.status_code == 422 and "Say why the rule goes" in refused.get_data(as_text=True)
    assert client.get(api_url(app, inside)).json["location"]["coarsened"] is True
    removed = admin_client.post(f"/admin/location-rules/{rule_id}/remove", data={"reason": "Threat over"})
    assert removed.status_code == 302
    assert client.get(api_url(app, inside)).json["location"]["latitude"] == -15.8402


def test_a_source_rule_and_a_type_rule_cover_incidents_saved_and_imported_later(
    app: Flask, admin_client: FlaskClient, client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    first = add_incident(
        "Arrests reported by a community radio",
        latitude=-15.5,
        longitude=-70.13,
        location_precision="exact",
        citations=[{"source": {"title": "Radio Pachamama", "kind": "press"}}],
    )
    with app.app_context():
        source_id = db.session.scalars(sa.select(Source.id)).one()
    assert (
        admin_client.post(
            "/admin/location-rules",
            data={"kind": "source", "source_id": str(source_id), "reason": "The radio's reporter"},
        ).status_code
        == 302
    )
    assert (
        admin_client.post(
            "/admin/location-rules",
            data={"kind": "incident_type", "incident_type": "sexual_violence", "reason": "Survivors"},
        ).status_code
        == 302
    )
    later = add_incident(
        "Sexual violence in custody",
        types=["sexual_violence"],
        latitude=-12.05,
        longitude=-77.04,
        location_precision="exact",
    )
    for incident_id in (first, later):
        assert client.get(api_url(app, incident_id)).json["location"]["coarsened"] is True
    unknown = admin_client.post(
        "/admin/location-rules", data={"kind": "incident_type", "incident_type": "nope", "reason": "x"}
    )
    assert unknown.status_code == 422 and "is not an incident type" in unknown.get_data(as_text=True)


def test_a_new_grid_moves_every_public_location_by_one_command(
    app: Flask, runner: FlaskCliRunner, add_incident: Callable[..., int]
) -> None:
    incident_id = add_incident("Detention visit", **SENSITIVE)
    app.config["LOCATION_GRID_DEGREES"] = 0.5
    result = runner.invoke(args=["public-locations"])
    assert result.exit_code == 0 and "1 incident(s) now shown at a new public location" in result.output
    with app.app_context():
        incident = db.session.get_one(Incident, incident_id)
        assert (incident.public_latitude, incident.public_longitude) == (-13.75, -73.25)
        assert incident.public_location_precision == LocationPrecision.ADMIN2


# -- confidential sources ------------------------------------------------------------------------------------


def test_a_confidential_source_is_shown_to_the_public_by_its_kind_and_figures_only(
    app: Flask, editor_client: FlaskClient, token: str, add_incident: Callable[..., int]
) -> None:
    client = app.test_client()  # the public (editor_client is the client fixture, logged in)
    incident_id = add_incident(
        "Beating at the station",
        citations=[
            {
                "source": {
                    "title": "Testimony of W-7",
                    "kind": "witness_testimony",
                    "author": "W-7 Quispe",
                    "url": "https://example.org/w7",
                    "reliability": "B",
                },
                "locator": "interview 2, minute 14",
                "quote": "They beat us in the yard",
                "claims": [{"category": "injured", "low": 4}],
            },
            {
                "source": {"title": "La República report", "kind": "press"},
                "claims": [{"category": "injured", "low": 3}],
            },
        ],
    )
    public_page = client.get(page(app, incident_id)).get_data(as_text=True)
    for secret in ("W-7", "Quispe", "example.org/w7", "interview 2", "beat us in the yard"):
        assert secret not in public_page
    assert "A confidential source" in public_page and "La República report" in public_page
    assert "3–4" in public_page
    record = client.get(api_url(app, incident_id)).json
    withheld = record["citations"][0]
    assert withheld["source"]["id"] is None and withheld["source"]["title"] == "A confidential source"
    assert withheld["source"]["reliability"] == "B" and (withheld["locator"], withheld["quote"]) == ("", "")
    assert withheld["claims"] == [{"category": "injured", "low": 4, "high": 4, "group": ""}]
    with app.app_context():
        secret_id = db.session.scalar(sa.select(Source.id).where(Source.title == "Testimony of W-7"))
    assert client.get(f"/api/v1/sources/{secret_id}").status_code == 404
    assert "W-7" not in client.get("/api/v1/sources").get_data(as_text=True)
    staff_page = editor_client.get(page(app, incident_id)).get_data(as_text=True)
    assert "Testimony of W-7" in staff_page and "Confidential source: never shown to the public" in staff_page
    staff = client.get(f"/api/v1/sources/{secret_id}", headers={"Authorization": f"Bearer {token}"})
    assert staff.json["confidential"] is True and staff.json["title"] == "Testimony of W-7"


def test_testimony_is_confidential_unless_said_otherwise_and_press_is_not(
    app: Flask, client: FlaskClient, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    citations = [
        {"source": {"title": "Testimony A", "kind": "witness_testimony"}},
        {"source": {"title": "Testimony B", "kind": "witness_testimony", "confidential": False}},
        {"source": {"title": "Leaked memo", "kind": "press", "confidential": True}},
    ]
    response = client.post("/api/v1/incidents", json=_api_incident(citations=citations), headers=headers)
    assert response.status_code == 201, response.data
    with app.app_context():
        found = dict(db.session.execute(sa.select(Source.title, Source.confidential)).all())
    assert found == {"Testimony A": True, "Testimony B": False, "Leaked memo": True}
    bad = _api_incident(citations=[{"source": {"title": "T", "kind": "press", "confidential": "maybe"}}])
    refused = client.post("/api/v1/incidents", json=bad, headers=headers)
    assert refused.status_code == 422
    assert refused.json["errors"] == {"citations.0.source.confidential": ["Not a valid boolean."]}


def _api_incident(**fields: Any) -> dict[str, Any]:
    body = {
        "title": "Andahuaylas: detention visit",
        "types": ["arrest_detention"],
        "start_date": "2022-12-11",
        "date_precision": "day",
        "country": "PE",
        "latitude": TRUE_LAT,
        "longitude": TRUE_LON,
        "location_precision": "exact",
        "verification_grade": "fair",
        "status": "draft",
    }
    return body | fields


def test_the_app_refuses_to_start_with_a_grid_of_zero(tmp_path: Any) -> None:
    from incidents.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="LOCATION_GRID_DEGREES: A grid size must be more than 0"):
        create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "LOCATION_GRID_DEGREES": 0})


def test_an_import_publishes_the_incidents_a_rule_covers_coarsened(
    app: Flask, admin_client: FlaskClient, runner: FlaskCliRunner
) -> None:
    rule = {"kind": "region", "country": "BD", "admin1": "Chittagong Division", "reason": "Reprisals"}
    assert admin_client.post("/admin/location-rules", data=rule).status_code == 302
    result = run_import(runner, FIXTURES / "ucdp_ged.csv")
    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                Incident.admin1, Incident.location_coarsened, Incident.latitude, Incident.public_latitude
            )
        ).all()
    covered = [row for row in rows if row.admin1 == "Chittagong Division"]
    assert len(covered) == 2 and all(row.location_coarsened for row in covered)
    assert all(row.latitude != row.public_latitude for row in covered)
    assert not any(row.location_coarsened for row in rows if row.admin1 != "Chittagong Division")
    # (After every test, the derived stores are compared with a rebuild: the bulk writer's public locations
    # are what a save's refresh would give.)

"""The exports: the JSON format and its schema and checksum, GeoJSON in a GIS reader, CSV, audiences."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.exports.flat import FLAT_COLUMNS
from incidents.exports.schema import schema_path
from incidents.extensions import db
from incidents.models import Incident
from incidents.public_ids import is_public_id
from incidents.queries.selection import incident_selection
from incidents.schemas.filters import filters_from_args
from tests.factories import (
    DRAFT_TITLE,
    HOSTILE_TEXT,
    MARKER,
    add_hostile_and_draft,
    load_demo,
    near_juliaca_with_a_witness,
)
from tests.helpers import export_json, public_id, recomputed_checksum

SCHEMA = json.loads(schema_path("1.3").read_text(encoding="utf-8"))
SCHEMA_1_2 = json.loads(schema_path("1.2").read_text(encoding="utf-8"))
SCHEMA_1_0 = json.loads(schema_path("1.0").read_text(encoding="utf-8"))
SCHEMA_1_1 = json.loads(schema_path("1.1").read_text(encoding="utf-8"))
OGRINFO = shutil.which("ogrinfo")


@pytest.fixture
def incident_defaults() -> dict[str, Any]:
    """The incidents add_incident makes here: near Juliaca, 2 or 3 killed by a witness's account."""
    return near_juliaca_with_a_witness()


def test_json_export_of_the_demo_validates_and_its_checksum_is_stable(
    client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    first = export_json(client)
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(first)
    header = first["header"]
    assert first["format"] == "incidents-export" and first["format_version"] == "1.3"
    # Every incident is named by its public id, each its own.
    ids = [i["id"] for i in first["incidents"]]
    assert all(is_public_id(i) for i in ids) and len(set(ids)) == len(ids)
    # La República's breakdown of the Juliaca dead: claims per group beside its figure for the whole event.
    [juliaca] = [i for i in first["incidents"] if i["title"].startswith("Juliaca")]
    claims = [c["claims"] for c in juliaca["citations"] if c["source"]["publisher"] == "La República"]
    assert claims == [
        [
            {"category": "killed", "low": 18, "high": 18, "group": ""},
            {"category": "killed", "low": 17, "high": 17, "group": "civilians"},
            {"category": "killed", "low": 1, "high": 1, "group": "police officers"},
        ]
    ]
    [killed] = [c for c in juliaca["casualties"] if c["category"] == "killed"]
    assert (killed["low"], killed["high"], killed["source_count"]) == (17, 18, 5)
    # An export in 1.3 is not a valid 1.2, 1.1 or 1.0 document: its ids are public ids where 1.2 had
    # numbers, its locations and sources carry a member 1.1 did not have, its claims one 1.0 did not have.
    assert not jsonschema.Draft202012Validator(SCHEMA_1_2).is_valid(first)
    assert not jsonschema.Draft202012Validator(SCHEMA_1_1).is_valid(first)
    assert not jsonschema.Draft202012Validator(SCHEMA_1_0).is_valid(first)
    assert header["count"] == len(first["incidents"]) == 11
    assert header["audience"] == "public" and header["includes_unpublished"] is False
    assert header["checksum"]["value"] == recomputed_checksum(first)
    assert header["checksum"]["value"] in header["citation"]
    second = export_json(client)
    assert second["header"]["checksum"] == header["checksum"]
    assert second["incidents"] == first["incidents"]

    juliaca = next(i for i in first["incidents"] if i["title"].startswith("Juliaca"))
    assert juliaca["url"].endswith(f"/incidents/{juliaca['id']}")
    killed = next(c for c in juliaca["casualties"] if c["category"] == "killed")
    assert (killed["low"], killed["high"]) == (17, 18)
    assert juliaca["date"]["ucdp_date_prec"] == 1 and juliaca["location"]["country"] == "PE"
    assert all(citation["source"]["title"] for citation in juliaca["citations"])


def test_filters_are_applied_and_recorded(client: FlaskClient, runner: FlaskCliRunner) -> None:
    load_demo(runner)
    document = export_json(client, "?admin1=puno&type=killing")
    assert document["header"]["filters"] == {"admin1": "puno", "type": ["killing"]}
    assert document["incidents"] and all(i["location"]["admin1"] == "Puno" for i in document["incidents"])
    assert "admin1=puno" in document["header"]["export_url"]
    whole = export_json(client)
    assert document["header"]["checksum"] != whole["header"]["checksum"]


def test_same_data_same_checksum_even_with_tiny_coordinates(
    client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    # Floats under 1e-4 are where fast JSON encoders and Python's json disagree (1e-7 / 1e-07).
    add_incident("Near null island", latitude=0.00001, longitude=-0.0000012)
    document = export_json(client)
    assert document["header"]["checksum"]["value"] == recomputed_checksum(document)


@pytest.mark.parametrize(
    "query",
    ["", "?admin1=Puno", "?type=curfew&type=raid", "?date_from=2023-01-01", "?country=PE&q=airport"],
)
def test_exports_hold_exactly_the_selected_incidents(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, query: str
) -> None:
    load_demo(runner)
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    with app.test_request_context():
        filters = filters_from_args(MultiDict(parse_qsl(query.lstrip("?"))))
        selection = incident_selection(filters, staff=False)
        expected = set(db.session.scalars(selection.with_only_columns(Incident.public_id)))
    assert expected
    assert {i["id"] for i in export_json(client, query)["incidents"]} == expected
    rows = list(csv.DictReader(io.StringIO(client.get("/export.csv" + query).get_data(as_text=True))))
    assert {row["id"] for row in rows} == expected
    features = json.loads(client.get("/export.geojson" + query).data)["features"]
    assert {feature["id"] for feature in features} == expected


def test_a_bad_filter_is_a_400_problem(client: FlaskClient) -> None:
    response = client.get("/export.csv?date_from=2023-13-01")
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert "date_from" in response.json["errors"]


def test_csv_columns_hxl_and_formula_injection(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    add_hostile_and_draft(app)
    text = client.get("/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == [name for name, _tag in FLAT_COLUMNS]
    assert len(rows) == 12
    juliaca = next(row for row in rows if row["title"].startswith("Juliaca"))
    assert (juliaca["killed_low"], juliaca["killed_high"]) == ("17", "18")
    assert juliaca["date_prec"] == "1" and juliaca["country"] == "PE" and juliaca["country_name"] == "Peru"
    assert float(juliaca["longitude"]) < -60 and float(juliaca["latitude"]) < 0
    assert is_public_id(juliaca["id"]) and juliaca["permalink"].endswith(f"/incidents/{juliaca['id']}")
    assert int(juliaca["number_of_sources"]) == len(juliaca["source_titles"].split(";"))
    hostile = next(row for row in rows if "calc" in row["title"])
    # A cell that a spreadsheet would run as a formula starts with an apostrophe instead.
    assert hostile["title"] == "'" + HOSTILE_TEXT and hostile["perpetrators"] == "'-1+1 @SUM(A1)"

    with_tags = list(csv.reader(io.StringIO(client.get("/export.csv?hxl=1").get_data(as_text=True))))
    assert with_tags[0] == [name for name, _tag in FLAT_COLUMNS]
    assert all(tag.startswith("#") for tag in with_tags[1])
    assert with_tags[1][with_tags[0].index("latitude")] == "#geo+lat"
    assert len(with_tags) == 2 + 12


def test_geojson_is_a_feature_collection_with_longitude_first(
    client: FlaskClient, runner: FlaskCliRunner, add_incident: Callable[..., int]
) -> None:
    load_demo(runner)
    add_incident("No coordinates known", latitude=None, longitude=None, location_precision="country")
    response = client.get("/export.geojson")
    assert response.mimetype == "application/geo+json"
    collection = json.loads(response.data)
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 12
    for feature in collection["features"]:
        properties = feature["properties"]
        assert is_public_id(feature["id"]) and properties["id"] == feature["id"]
        assert properties["permalink"].endswith(f"/incidents/{feature['id']}")
        if feature["geometry"] is None:
            assert properties["latitude"] is None
            continue
        assert feature["geometry"]["coordinates"] == [properties["longitude"], properties["latitude"]]
    assert collection["export"]["count"] == 12
    # Its features did not change when claims gained their group (incidents-export 1.1); they did when
    # incidents gained their public ids (incidents-export 1.3): 1.1.
    assert collection["export"]["format_version"] == "1.1"


@pytest.mark.skipif(OGRINFO is None, reason="ogrinfo is absent: apt-get install gdal-bin (CI installs it)")
def test_geojson_opens_in_gdal(client: FlaskClient, runner: FlaskCliRunner, tmp_path: Path) -> None:
    load_demo(runner)
    path = tmp_path / "incidents.geojson"
    path.write_bytes(client.get("/export.geojson").data)
    summary = subprocess.run(  # noqa: S603 - GDAL's ogrinfo on a file this test wrote
        [str(OGRINFO), "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert "Feature Count: 11" in summary
    assert "Geometry: Point" in summary
    full = subprocess.run([str(OGRINFO), "-ro", "-al", str(path)], capture_output=True, text=True, check=True)  # noqa: S603 - GDAL's ogrinfo on a file this test wrote
    points = re.findall(r"POINT \((-?[\d.]+) (-?[\d.]+)\)", full.stdout)
    assert len(points) == 11
    for x, y in points:  # Peru: longitude about -70 to -81 (x), latitude about 0 to -18 (y)
        assert -82 < float(x) < -68 and -19 < float(y) < 0


def test_public_exports_hold_no_draft_and_no_confidential_text(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    hostile_id, draft_id = add_hostile_and_draft(app)
    for fmt in ("json", "geojson", "csv"):
        for query in ("", "?status=draft", "?q=Ilave"):
            response = client.get(f"/export.{fmt}{query}")
            body = response.get_data(as_text=True)
            assert response.status_code == 200
            assert MARKER not in body and DRAFT_TITLE not in body, (fmt, query)
            assert "confidential_notes" not in body and response.headers["X-Export-Audience"] == "public"
    document = export_json(client)
    assert public_id(app, draft_id) not in {i["id"] for i in document["incidents"]}
    hostile = next(i for i in document["incidents"] if i["id"] == public_id(app, hostile_id))
    assert hostile["title"] == HOSTILE_TEXT  # JSON keeps text as it is; it is data, never markup
    assert "status" not in hostile and "created_by" not in hostile


def test_staff_export_includes_drafts_and_says_so(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    _hostile_id, draft_id = add_hostile_and_draft(app)
    document = export_json(editor_client)
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    header = document["header"]
    assert header["audience"] == "staff" and header["includes_unpublished"] is True
    assert "Do not publish" in header["notice"] and "staff export" in header["citation"]
    draft = next(i for i in document["incidents"] if i["id"] == public_id(app, draft_id))
    assert draft["status"] == "draft" and MARKER in draft["confidential_notes"]
    assert header["checksum"]["value"] == recomputed_checksum(document)
    response = editor_client.get("/export.csv?status=draft")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert response.headers["X-Export-Audience"] == "staff"
    assert [row["title"] for row in rows] == [DRAFT_TITLE] and rows[0]["status"] == "draft"
    assert "incidents-staff-" in response.headers["Content-Disposition"]


def test_the_json_schema_is_served(client: FlaskClient) -> None:
    response = client.get("/export/schema/1.3.json")
    assert response.status_code == 200
    assert json.loads(response.data) == SCHEMA
    # Files written in 1.0, 1.1 and 1.2 point at their schemas, which stay served.
    older = client.get("/export/schema/1.0.json")
    assert older.status_code == 200 and json.loads(older.data) == SCHEMA_1_0
    assert json.loads(client.get("/export/schema/1.1.json").data) == SCHEMA_1_1
    assert json.loads(client.get("/export/schema/1.2.json").data) == SCHEMA_1_2
    assert client.get("/export/schema/1.4.json").status_code == 404


def test_list_page_links_to_exports_of_this_view(client: FlaskClient, runner: FlaskCliRunner) -> None:
    load_demo(runner)
    page = client.get("/incidents/?admin1=Puno&type=killing&page=1").get_data(as_text=True)
    links = re.findall(r'href="(/export\.(?:json|geojson|csv)[^"]*)"', page)
    assert len(links) == 4
    for link in links:
        assert "admin1=Puno" in link and "type=killing" in link and "page=" not in link
        assert client.get(link.replace("&amp;", "&")).status_code == 200


def test_exports_stream_in_batches(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch, add_incident: Callable[..., int]
) -> None:
    from incidents.exports import reader

    monkeypatch.setattr(reader, "BATCH_SIZE", 2)
    for number in range(5):
        add_incident(f"Incident {number}")
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count(Incident.id)))
    document = export_json(client)
    assert [i["title"] for i in document["incidents"]] == [f"Incident {n}" for n in range(5)]
    assert document["header"]["count"] == total == 5

"""Our own JSON export imported: the round trip gives back the same content checksum; twice adds nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.exports.serialize import canonical_json
from incidents.extensions import db
from incidents.models import Incident
from incidents.public_ids import is_public_id
from incidents.services.incidents import retract_incident
from incidents.vocabulary import LocationPrecision
from tests.factories import add_incident, load_demo
from tests.helpers import (
    checksum,
    counts,
    empty_the_database,
    export_file,
    id_of_public,
    run_import,
    write,
)


def test_round_trip_through_an_empty_database_keeps_the_checksum(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    load_demo(runner, "--publish")
    first = export_file(runner, tmp_path / "first.json")
    empty_the_database(app)
    assert counts(app)["incidents"] == 0

    result = run_import(runner, tmp_path / "first.json", "--publish")
    assert result.exit_code == 0, result.output
    sources = {c["source"]["id"] for i in first["incidents"] for c in i["citations"]}  # type: ignore[attr-defined]
    assert "11 records read (json)." in result.output
    assert f"11 incident(s) created, {len(sources)} new source(s)." in result.output
    second = export_file(runner, tmp_path / "second.json")
    assert checksum(second) == checksum(first)
    assert second["incidents"] == first["incidents"]

    # The same file again: nothing new.
    again = run_import(runner, tmp_path / "first.json", "--publish")
    assert "11 already imported before: nothing new for them." in again.output
    assert counts(app)["incidents"] == 11
    # New incidents after the import get ids past the ones kept (the sequence moved on, on PostgreSQL).
    load_demo(runner, "--publish")
    assert counts(app)["incidents"] == 22


def test_a_1_3_export_into_an_empty_database_keeps_its_public_ids(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Format 1.3 names each incident by its public id: imported into an empty database, every incident gets
    the public id it had, so its URL still leads to it and the export again is the same, checksum included.
    An "id" that is neither a public id nor a whole number is refused, naming the field."""
    load_demo(runner, "--publish")
    first: dict[str, Any] = export_file(runner, tmp_path / "first.json")
    assert first["format_version"] == "1.3"
    with app.app_context():
        before = db.session.scalars(sa.select(Incident.public_id).order_by(Incident.id)).all()
    exported = [item["id"] for item in first["incidents"]]
    assert exported == before and all(is_public_id(public) for public in exported)
    empty_the_database(app)

    result = run_import(runner, tmp_path / "first.json", "--publish")
    assert result.exit_code == 0, result.output
    with app.app_context():
        after = db.session.scalars(sa.select(Incident.public_id).order_by(Incident.id)).all()
    assert after == before
    second = export_file(runner, tmp_path / "second.json")
    assert [item["id"] for item in second["incidents"]] == exported
    assert checksum(second) == checksum(first)

    empty_the_database(app)
    first["incidents"][1]["id"] = "incident-12"
    first["incidents"][2]["id"] = 2.5
    first["incidents"][3]["id"] = True
    path = write(tmp_path, "tampered.json", resealed(first))
    result = run_import(runner, path)
    assert result.exit_code == 1, result.output
    for number, value in ((2, "'incident-12'"), (3, "2.5"), (4, "True")):
        assert (
            f"record {number}, id: {value} is not an incident id (a public id, or a whole number from 1 to "
            "2,147,483,647)." in result.output
        )
    assert "record 1," not in result.output
    assert counts(app)["incidents"] == 0


def test_a_staff_export_keeps_confidential_notes_and_imports_as_drafts(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    load_demo(runner, "--draft")
    staff = export_file(runner, tmp_path / "staff.json", "--include-drafts")
    empty_the_database(app)
    assert run_import(runner, tmp_path / "staff.json").exit_code == 0
    again = export_file(runner, tmp_path / "again.json", "--include-drafts")
    strip = ("created_at", "updated_at", "created_by", "updated_by")
    assert [{k: v for k, v in i.items() if k not in strip} for i in again["incidents"]] == [  # type: ignore[union-attr]
        {k: v for k, v in i.items() if k not in strip}
        for i in staff["incidents"]  # type: ignore[union-attr]
    ]


def test_an_export_changed_after_it_was_made_is_refused(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    load_demo(runner, "--publish")
    export_file(runner, tmp_path / "export.json")
    text = (tmp_path / "export.json").read_text(encoding="utf-8").replace("near the airport", "far from it")
    path = write(tmp_path, "changed.json", text)
    empty_the_database(app)
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "The checksum in the header does not match the incidents" in result.output
    assert counts(app)["incidents"] == 0


def test_an_export_into_a_database_with_those_ids_taken(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Into a database that has incidents already, the imported ones get new ids and the originals stay."""
    load_demo(runner, "--publish")
    export_file(runner, tmp_path / "export.json")
    result = run_import(runner, tmp_path / "export.json")
    assert result.exit_code == 0, result.output
    assert counts(app)["incidents"] == 22
    # Each is the same event as a demo incident: flagged for an editor, not merged.
    assert "possible duplicate(s) flagged for an editor" in result.output


def resealed(document: dict[str, Any]) -> str:
    """The document, changed by a test, with a checksum that matches again (as a forger would make it)."""
    digest = hashlib.sha256()
    for item in document["incidents"]:
        digest.update(canonical_json({key: value for key, value in item.items() if key != "url"}))
        digest.update(b"\n")
    document["header"]["checksum"]["value"] = digest.hexdigest()
    return json.dumps(document)


def test_a_staff_export_keeps_drafts_and_retractions_whatever_publish(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """--publish publishes what was published where the file comes from: a draft stays a draft, and a
    retraction is not undone by moving the data."""
    load_demo(runner, "--publish")
    add_incident(app, "A draft nobody published", status="draft")
    with app.app_context():
        second = db.session.scalars(sa.select(Incident).order_by(Incident.id).limit(2)).all()[1]
        retract_incident(second, COMMAND_LINE, reason="shown to be a rumour", version=second.version)
        expected = {
            incident.public_id: incident.status.value
            for incident in db.session.scalars(sa.select(Incident)).all()
        }
        db.session.commit()
    export_file(runner, tmp_path / "staff.json", "--include-drafts")
    empty_the_database(app)

    dry = run_import(runner, tmp_path / "staff.json", "--publish", "--dry-run")
    assert "Status kept as the file has it: 1 draft(s), 1 retracted incident(s)." in dry.output
    result = run_import(runner, tmp_path / "staff.json", "--publish")
    assert result.exit_code == 0, result.output
    assert "Status kept as the file has it: 1 draft(s), 1 retracted incident(s)." in result.output
    with app.app_context():
        got = {i: s for i, s in db.session.execute(sa.select(Incident.public_id, Incident.status))}
    assert {i: s.value for i, s in got.items()} == expected
    assert list(expected.values()).count("published") == 10

    # Without --publish: drafts, but the retraction is kept.
    empty_the_database(app)
    assert run_import(runner, tmp_path / "staff.json").exit_code == 0
    with app.app_context():
        statuses = db.session.scalars(sa.select(Incident.status)).all()
    assert sorted(s.value for s in statuses) == ["draft"] * 11 + ["retracted"]


def test_ids_out_of_range_and_a_source_id_given_twice_are_refused_by_record(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    load_demo(runner, "--publish")
    document = export_file(runner, tmp_path / "export.json")
    empty_the_database(app)
    incidents: list[dict[str, Any]] = document["incidents"]  # type: ignore[assignment]
    incidents[1]["id"] = 2**31  # past PostgreSQL's integer
    incidents[2]["citations"][0]["source"]["id"] = 2**63  # past SQLite's
    incidents[3]["status"] = "hidden"
    # Another source given the id of the first record's first source.
    clash = incidents[4]["citations"][0]["source"]
    clash["id"] = incidents[0]["citations"][0]["source"]["id"]
    clash["title"] = "A different report"
    path = write(tmp_path, "tampered.json", resealed(document))

    for options in (["--dry-run"], []):
        result = run_import(runner, path, *options)
        assert result.exit_code == 1, result.output
        assert (
            f"record 2, id: {2**31} is not an incident id (a public id, or a whole number from 1 to "
            "2,147,483,647)." in result.output
        )
        assert (
            f"record 3, citations.0.source.id: {2**63} is not a source id (a whole number from 1 to "
            "2,147,483,647)." in result.output
        )
        assert (
            "record 4, status: 'hidden' is not a status: one of draft, in_review, published, retracted."
            in result.output
        )
        assert (
            f"record 5, citations.0.source.id: The source id {clash['id']} is also that of another source, "
            "in record 1: one id, one source." in result.output
        )
        assert counts(app)["incidents"] == 0
        assert counts(app)["sources"] == 0


def test_an_incident_recorded_without_coordinates_comes_back_as_recorded(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The entry form allows a place without coordinates (and its precision as the researcher gave it): our
    own export imports it as recorded, not geocoded and not made coarser, and the round trip holds."""
    load_demo(runner, "--publish")
    with app.app_context():
        incident = db.session.scalars(sa.select(Incident).order_by(Incident.id).limit(1)).one()
        incident.latitude = incident.longitude = None
        incident.admin1 = incident.admin2 = ""
        incident.place_name = "Juliaca"
        incident.location_precision = LocationPrecision.EXACT
        db.session.commit()
    first = export_file(runner, tmp_path / "first.json")
    empty_the_database(app)
    result = run_import(runner, tmp_path / "first.json", "--publish")
    assert result.exit_code == 0, result.output
    assert "geocoded" not in result.output
    assert checksum(export_file(runner, tmp_path / "second.json")) == checksum(first)


def test_a_version_1_0_export_imports_its_claims_as_whole_figures(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """1.0 had no claim groups: each of its claims counts its whole category, as a 1.1 claim with group "".
    Its incidents are numbered (as before 1.3): the numbers are kept as the incidents' ids in the database,
    and the incidents get public ids of their own."""
    load_demo(runner, "--publish")
    document: dict[str, Any] = export_file(runner, tmp_path / "current.json")
    numbers = [id_of_public(app, item["id"]) for item in document["incidents"]]
    for item, number in zip(document["incidents"], numbers, strict=True):
        item["id"] = number
        item["url"] = item["url"].rsplit("/", 1)[0] + f"/{number}"
    grouped = [k for i in document["incidents"] for c in i["citations"] for k in c["claims"] if k["group"]]
    assert len(grouped) == 2  # La República's breakdown of the Juliaca dead
    for item in document["incidents"]:
        for citation in item["citations"]:
            citation["claims"] = [
                {key: value for key, value in claim.items() if key != "group"}
                for claim in citation["claims"]
                if not claim["group"]
            ]
    expected = [
        {key: value for key, value in item.items() if key not in ("id", "url")}
        for item in json.loads(json.dumps(document["incidents"]))
    ]
    document["format_version"] = "1.0"
    empty_the_database(app)
    result = run_import(runner, write(tmp_path, "old.json", resealed(document)), "--publish")
    assert result.exit_code == 0, result.output
    again = export_file(runner, tmp_path / "again.json")
    assert again["format_version"] == "1.3"
    for item in expected:
        for citation in item["citations"]:
            for claim in citation["claims"]:
                claim["group"] = ""
    assert [{k: v for k, v in i.items() if k not in ("id", "url")} for i in again["incidents"]] == expected
    assert all(is_public_id(item["id"]) for item in again["incidents"])
    assert [id_of_public(app, item["id"]) for item in again["incidents"]] == numbers


def test_a_version_this_release_does_not_know_is_refused_saying_so(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    load_demo(runner, "--publish")
    document: dict[str, Any] = export_file(runner, tmp_path / "current.json")
    for version in ("1.7", "2.0", ""):
        document["format_version"] = version
        result = run_import(runner, write(tmp_path, "newer.json", json.dumps(document)))
        assert result.exit_code == 1
        assert (
            f"This is incidents-export version {version or '?'}; this importer reads versions "
            "1.0, 1.1, 1.2 and 1.3." in result.output
        )
    assert counts(app)["incidents"] == 11  # the demo, nothing more

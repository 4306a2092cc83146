"""Our own JSON export imported: the round trip gives back the same content checksum; twice adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.domain.incidents import seed_incident_types
from incidents.extensions import db
from tests.import_fixtures import counts, run_import, write


def export(runner: FlaskCliRunner, path: Path, *options: str) -> dict[str, object]:
    result = runner.invoke(args=["export", "--format", "json", "-o", str(path), *options])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return document


def checksum(document: dict[str, object]) -> str:
    header = document["header"]
    assert isinstance(header, dict)
    return str(header["checksum"]["value"])


def empty_the_database(app: Flask) -> None:
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(sa.delete(table))
        seed_incident_types()
        db.session.commit()


def test_round_trip_through_an_empty_database_keeps_the_checksum(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(args=["load-demo", "--publish"]).exit_code == 0
    first = export(runner, tmp_path / "first.json")
    empty_the_database(app)
    assert counts(app)["incidents"] == 0

    result = run_import(runner, tmp_path / "first.json", "--publish")
    assert result.exit_code == 0, result.output
    sources = {c["source"]["id"] for i in first["incidents"] for c in i["citations"]}  # type: ignore[attr-defined]
    assert "11 records read (json)." in result.output
    assert f"11 incident(s) created, {len(sources)} new source(s)." in result.output
    second = export(runner, tmp_path / "second.json")
    assert checksum(second) == checksum(first)
    assert second["incidents"] == first["incidents"]

    # The same file again: nothing new.
    again = run_import(runner, tmp_path / "first.json", "--publish")
    assert "11 already imported before: nothing new for them." in again.output
    assert counts(app)["incidents"] == 11
    # New incidents after the import get ids past the ones kept (the sequence moved on, on PostgreSQL).
    assert runner.invoke(args=["load-demo", "--publish"]).exit_code == 0
    assert counts(app)["incidents"] == 22


def test_a_staff_export_keeps_confidential_notes_and_imports_as_drafts(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(args=["load-demo", "--draft"]).exit_code == 0
    staff = export(runner, tmp_path / "staff.json", "--include-drafts")
    empty_the_database(app)
    assert run_import(runner, tmp_path / "staff.json").exit_code == 0
    again = export(runner, tmp_path / "again.json", "--include-drafts")
    strip = ("created_at", "updated_at", "created_by", "updated_by")
    assert [{k: v for k, v in i.items() if k not in strip} for i in again["incidents"]] == [  # type: ignore[union-attr]
        {k: v for k, v in i.items() if k not in strip}
        for i in staff["incidents"]  # type: ignore[union-attr]
    ]


def test_an_export_changed_after_it_was_made_is_refused(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    assert runner.invoke(args=["load-demo", "--publish"]).exit_code == 0
    export(runner, tmp_path / "export.json")
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
    assert runner.invoke(args=["load-demo", "--publish"]).exit_code == 0
    export(runner, tmp_path / "export.json")
    result = run_import(runner, tmp_path / "export.json")
    assert result.exit_code == 0, result.output
    assert counts(app)["incidents"] == 22
    # Each is the same event as a demo incident: flagged for an editor, not merged.
    assert "possible duplicate(s) flagged for an editor" in result.output

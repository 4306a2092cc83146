"""`flask export`, `create-token` and `revoke-token`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.models import User
from tests.factories import DRAFT_TITLE, MARKER, add_hostile_and_draft, load_demo


def test_export_writes_what_the_public_sees_to_standard_output(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    add_hostile_and_draft(app)
    result = runner.invoke(args=["export", "--format", "json", "--base-url", "https://incidents.example.org"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (
        document["header"]["count"] == 12 and MARKER not in result.stdout and DRAFT_TITLE not in result.stdout
    )
    assert document["incidents"][0]["url"].startswith("https://incidents.example.org/incidents/")
    assert result.stderr == ""
    # the same data gives the same checksum, from the command line or the web
    web = json.loads(client.get("/export.json").data)
    assert web["header"]["checksum"] == document["header"]["checksum"]


def test_export_with_filters_drafts_and_a_file(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    load_demo(runner)
    add_hostile_and_draft(app)
    target = tmp_path / "drafts.csv"
    result = runner.invoke(
        args=[
            "export",
            "--format",
            "csv",
            "--include-drafts",
            "--status",
            "draft",
            "--hxl",
            "-o",
            str(target),
        ]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "Exporting 1 incidents" in result.stderr and f"Wrote 1 incidents to {target}" in result.stderr
    rows = list(csv.reader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert rows[1][0] == "#event+id" and len(rows) == 3
    assert rows[2][1] == DRAFT_TITLE and MARKER in rows[2][rows[0].index("confidential_notes")]

    result = runner.invoke(args=["export", "--format", "geojson", "--admin1", "Puno", "--type", "killing"])
    assert result.exit_code == 0, result.output
    features = json.loads(result.stdout)["features"]
    assert features and all(f["properties"]["admin1"] == "Puno" for f in features)


def test_export_refuses_bad_options_by_name(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["export", "--country", "Peru"])
    assert result.exit_code == 2 and "--country" in result.output
    result = runner.invoke(args=["export", "--date-from", "2023-02-30"])
    assert result.exit_code == 2 and "--date-from" in result.output
    result = runner.invoke(args=["export", "--format", "json", "--hxl"])
    assert result.exit_code == 2 and "--hxl" in result.output
    assert runner.invoke(args=["export", "--format", "xlsx"]).exit_code == 2


def test_create_token_prints_the_token_last_and_revoke_token(
    client: FlaskClient, runner: FlaskCliRunner, make_user: Callable[..., User]
) -> None:
    make_user("ana@example.org")
    result = runner.invoke(args=["create-token", "ana@example.org", "--name", "laptop"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("inc_")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/sources", headers=headers).status_code == 200
    assert runner.invoke(args=["create-token", "nobody@example.org"]).exit_code == 1
    assert runner.invoke(args=["revoke-token", "inc_"]).exit_code == 1
    assert runner.invoke(args=["revoke-token", token[:12]]).exit_code == 0
    assert client.get("/api/v1/sources", headers=headers).status_code == 401

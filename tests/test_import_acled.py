"""ACLED imports: precision codes, event types by fatalities, actors, sources, unmapped sub-event types."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.vocabulary import DatePrecision, LocationPrecision, VerificationGrade
from tests.helpers import FIXTURES, counts, incident, run_import, write

ACLED = FIXTURES / "acled.csv"


def test_acled_csv_imports_with_precision_types_and_actors(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(runner, ACLED)
    assert result.exit_code == 0, result.output
    assert "3 rows read (acled)." in result.output
    assert counts(app)["incidents"] == 3

    juliaca = incident(app, "PER12001")
    assert juliaca.external_source == "acled"
    assert [t.slug for t in juliaca.types] == ["killing"]  # excessive force, with fatalities
    assert juliaca.start_date == dt.date(2023, 1, 9) and juliaca.date_precision == DatePrecision.DAY
    # geo_precision 1 is a town's coordinates: "near" the town, not the exact spot.
    assert juliaca.location_precision == LocationPrecision.NEAR
    assert (juliaca.place_name, juliaca.admin1, juliaca.admin2, juliaca.country) == (
        "Juliaca",
        "Puno",
        "San Roman",
        "PE",
    )
    # In protest events ACLED's actor1 is the protesters: they are the victims here.
    assert juliaca.perpetrators == "Police Forces of Peru (2022-)"
    assert juliaca.victims == "Protesters (Peru)"
    assert juliaca.verification_grade == VerificationGrade.FAIR  # two sources named
    [citation] = juliaca.citations
    assert citation.source.title == "La Republica; EFE"
    assert [(c.category.value, c.low, c.high) for c in citation.claims] == [("killed", 17, 17)]
    assert juliaca.narrative.startswith("On 9 January 2023, police fired")

    arrests = incident(app, "PER12002")
    assert [t.slug for t in arrests.types] == ["arrest_detention"]
    # "21 January 2023", time_precision 2: the week around ACLED's mid-week date.
    assert arrests.date_precision == DatePrecision.WEEK
    assert (arrests.start_date, arrests.end_date) == (dt.date(2023, 1, 18), dt.date(2023, 1, 24))
    assert arrests.perpetrators == "Police Forces of Peru (2022-)" and arrests.victims == "Students (Peru)"
    assert [(c.low, c.high) for c in arrests.citations[0].claims] == [(0, 0)]

    attack = incident(app, "PER12003")
    assert [t.slug for t in attack.types] == ["injury"]  # an attack without fatalities
    assert attack.date_precision == DatePrecision.MONTH
    assert (attack.start_date, attack.end_date) == (dt.date(2023, 1, 1), dt.date(2023, 1, 31))
    assert attack.location_precision == LocationPrecision.ADMIN1  # geo_precision 3


def test_acled_again_creates_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    assert run_import(runner, ACLED).exit_code == 0
    before = counts(app)
    again = run_import(runner, ACLED)
    assert "3 already imported before" in again.output
    assert counts(app) == before


def _with_peaceful_protest(tmp_path: Path) -> Path:
    lines = ACLED.read_text(encoding="utf-8").splitlines()
    extra = (
        lines[1]
        .replace("PER12001", "PER12004")
        .replace("Excessive force against protesters", "Peaceful protest")
    )
    return write(tmp_path, "acled.csv", "\n".join([*lines, extra]) + "\n")


def test_a_sub_event_type_with_no_incident_type_is_reported_and_nothing_imported(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    before = counts(app)
    result = run_import(runner, _with_peaceful_protest(tmp_path))
    assert result.exit_code == 1
    assert "row 5, sub_event_type: ACLED’s 'Peaceful protest' has no incident type here" in result.output
    assert counts(app) == before


def test_skip_invalid_imports_the_other_rows(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    result = run_import(runner, _with_peaceful_protest(tmp_path), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "3 incident(s) created" in result.output
    assert "1 invalid row(s) left out (--skip-invalid)." in result.output
    assert counts(app)["incidents"] == 3


def test_a_mapping_file_gives_a_sub_event_type_its_type(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    mapping = write(tmp_path, "map.json", '{"values": {"types": {"Peaceful protest": "threat_harassment"}}}')
    result = run_import(runner, _with_peaceful_protest(tmp_path), "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    assert [t.slug for t in incident(app, "PER12004").types] == ["threat_harassment"]

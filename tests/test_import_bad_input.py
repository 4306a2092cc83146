"""Bad input: a clear report naming the row and the problem, or a 4xx; no 5xx, no partial import."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.extensions import db
from incidents.importing import report
from incidents.models import Incident
from tests.factories import load_demo
from tests.helpers import (
    FIXTURES,
    counts,
    empty_the_database,
    export_file,
    recomputed_checksum,
    run_import,
    write,
)


def ucdp_with(tmp_path: Path, **changes: str) -> Path:
    """The fixture's header, HXL row and first event (row 3), with some of the event's cells changed."""
    with (FIXTURES / "ucdp_ged.csv").open(encoding="utf-8", newline="") as handle:
        header, hxl, first, second, *_ = list(csv.reader(handle))
    event = dict(zip(header, first, strict=True))
    event.update(changes)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([header, hxl, [event[name] for name in header], second])
    return write(tmp_path, "ucdp.csv", buffer.getvalue())


BAD_ROWS = [
    (
        {"date_start": "2023-02-30", "date_end": "2023-02-30"},
        "row 3, date_start: '2023-02-30' is not a valid date (YYYY-MM-DD).",
    ),
    ({"latitude": "999"}, "row 3, latitude: Must be between -90 and 90 degrees."),
    ({"low": "-1", "best": "0", "high": "0"}, "row 3, low: Must be a whole number from 0 to 2147483647."),
    ({"low": "5", "best": "5", "high": "2"}, "row 3, high: Must not be below the low figure (5)."),
    ({"date_prec": "9"}, "row 3, date_prec: '9' is not a UCDP date precision (1–5)."),
    # Digits to Python (str.isdigit), but no code: they crashed the import with a ValueError.
    ({"date_prec": "²"}, "row 3, date_prec: '²' is not a UCDP date precision (1–5)."),
    ({"where_prec": "٣"}, "row 3, where_prec: '٣' is not a UCDP location precision (1–7)."),
    ({"iso3": "XXX", "country": "Atlantis"}, "row 3, country: 'XXX' names no country we know"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_ROWS, ids=[m.split(",")[1] for _, m in BAD_ROWS])
def test_a_bad_row_is_named_and_nothing_is_imported(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, changes: dict[str, str], message: str
) -> None:
    before = counts(app)
    result = run_import(runner, ucdp_with(tmp_path, **changes))
    assert result.exit_code == 1
    assert message in result.output
    # A real import that errors stopped: what it did, not what a dry run would do.
    assert re.search(
        r"Nothing was imported because of the \d error\(s\) listed, not even the 1 valid row\(s\): "
        r"fix them \(or use --skip-invalid to import the valid rows only\)\.",
        result.output,
    )
    assert "would be" not in result.output
    assert counts(app) == before  # the good row (row 4) was not imported either


def test_a_dry_run_with_errors_names_the_option_to_skip_them(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    result = run_import(runner, ucdp_with(tmp_path, latitude="999"), "--dry-run")
    assert result.exit_code == 1
    assert "1 incident(s) would be created" in result.output
    assert (
        "1 error(s): nothing will be imported until they are fixed "
        "(or use --skip-invalid to import the valid rows only)."
    ) in result.output


def test_skip_invalid_imports_the_good_rows_and_lists_the_bad(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    result = run_import(runner, ucdp_with(tmp_path, latitude="999"), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "row 3, latitude: Must be between -90 and 90 degrees." in result.output
    assert "1 incident(s) created" in result.output
    assert "1 invalid row(s) left out (--skip-invalid)." in result.output
    assert counts(app)["incidents"] == 1


def test_negative_acled_fatalities(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    text = (FIXTURES / "acled.csv").read_text(encoding="utf-8").replace(",17,,", ",-3,,")
    result = run_import(runner, write(tmp_path, "acled.csv", text))
    assert result.exit_code == 1
    assert "row 2, fatalities: Must be a whole number from 0" in result.output


FILE_PROBLEMS = [
    ("empty.csv", b"", "file: The file is empty."),
    ("blank.csv", b"  \n\n", "file: The file is empty."),
    ("book.csv", b"PK\x03\x04\x14\x00\x06\x00", "This is an Excel workbook or another ZIP archive"),
    ("utf16.csv", "date,place\n".encode("utf-16"), "The file is UTF-16 text."),
    ("other.json", b'{"name": "not an export"}', "This JSON file is in no format the importer knows"),
    ("broken.json", b'{"format": "incidents-export",', "The JSON cannot be read at line 1"),
    ("notes.txt", b"Some notes about the protests\nnothing tabular here\n", "Required columns are missing"),
    (
        "latin1.csv",
        "date,place,country,type\n2023-01-09,Juliaca,PE,killing\n2023-01-10,Perú,PE,killing\n".encode(
            "latin-1"
        ),
        "file, row 3: The file is not UTF-8: the byte 0xFA at row 3 (line 3)",
    ),
    (
        "latin1_sep.csv",
        "sep=,\ndate,place,country,type\n2023-01-10,Perú,PE,killing\n".encode("latin-1"),
        "file, row 2: The file is not UTF-8: the byte 0xFA at row 2 (line 3)",
    ),
]


@pytest.mark.parametrize(("name", "content", "message"), FILE_PROBLEMS, ids=[n for n, _, _ in FILE_PROBLEMS])
def test_a_file_that_cannot_be_read_says_why(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    before = counts(app)
    result = run_import(runner, write(tmp_path, name, content))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Nothing imported: the file cannot be read as it is." in result.output
    assert counts(app) == before


def test_required_columns_of_a_named_format(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    lines = (FIXTURES / "ucdp_ged.csv").read_text(encoding="utf-8").splitlines()
    without_best = "\n".join(",".join(line.split(",")[:-2]) for line in lines[:1]) + "\n"
    result = run_import(runner, write(tmp_path, "u.csv", without_best), "--format", "ucdp")
    assert result.exit_code == 1
    assert "file, row 1: This UCDP GED file lacks the column(s) best, high." in result.output
    acled = (FIXTURES / "acled.csv").read_text(encoding="utf-8").replace("fatalities", "deaths")
    result = run_import(runner, write(tmp_path, "a.csv", acled), "--format", "acled")
    assert "This ACLED file lacks the column(s) fatalities." in result.output
    result = run_import(runner, FIXTURES / "acled.csv", "--format", "json")
    assert "This is not a JSON file" in result.output
    assert counts(app)["incidents"] == 0


def test_a_repeated_id_in_one_file_is_an_error(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    lines = (FIXTURES / "acled.csv").read_text(encoding="utf-8").splitlines()
    result = run_import(runner, write(tmp_path, "a.csv", "\n".join([*lines, lines[1]]) + "\n"))
    assert result.exit_code == 1
    assert "row 5: Repeats the id PER12001 of row 2." in result.output


# The web page: the same problems as a report page (never a 5xx), and uploads over the limit refused.


@pytest.mark.parametrize(("name", "content", "message"), FILE_PROBLEMS, ids=[n for n, _, _ in FILE_PROBLEMS])
def test_the_page_reports_unreadable_files(
    app: Flask, editor_client: FlaskClient, name: str, content: bytes, message: str
) -> None:
    response = editor_client.post(
        "/import/", data={"file": (io.BytesIO(content), name), "format": "auto"}, follow_redirects=True
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Nothing imported: the file cannot be read as it is." in page
    assert "/confirm" not in page
    assert counts(app)["incidents"] == 0


def test_an_upload_over_the_limit_gets_a_413_page(app: Flask, editor_client: FlaskClient) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    big = io.BytesIO(b"date,place\n" + b"2023-01-09,Juliaca\n" * 10_000)
    response = editor_client.post("/import/", data={"file": (big, "big.csv")})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "The file is too large" in page and "at most 64 KiB" in page
    assert "MAX_CONTENT_LENGTH" in page
    assert counts(app)["incidents"] == 0


def test_a_100_mb_upload_is_refused_by_its_length_alone(app: Flask, editor_client: FlaskClient) -> None:
    """The configured limit (16 MiB by default) refuses a 100 MB request before reading its body."""
    hundred_mb = 100 * 1024 * 1024
    response = editor_client.post(
        "/import/",
        input_stream=io.BytesIO(b"--x\r\n"),
        content_type="multipart/form-data; boundary=x",
        # What a server passes on from the request's Content-Length header.
        environ_overrides={"CONTENT_LENGTH": str(hundred_mb)},
    )
    assert response.status_code == 413
    assert "at most 16 MiB" in response.get_data(as_text=True)


def test_a_row_with_more_cells_than_the_header_is_named(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "shifted.csv", "date,place,country,type\n2023-01-09,Juliaca, Puno,PE,killing\n")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 2: The row has 5 cells and the header 4 columns" in result.output
    assert counts(app)["incidents"] == 0


def test_warnings_past_the_listed_ones_do_not_hide_an_error(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Places not found fill the list of warnings; the one bad date after them is still listed, by row."""
    monkeypatch.setattr(report, "MAX_PROBLEMS", 3)
    lines = ["date,place,country,type"] + [
        f"2023-01-{day:02},Pichanaqui,PE,killing" for day in range(1, 21, 4)
    ]
    path = write(tmp_path, "places.csv", "\n".join([*lines, "2023-02-30,Juliaca,PE,killing"]) + "\n")
    for options in (["--dry-run"], []):
        result = run_import(runner, path, *options)
        assert result.exit_code == 1
        assert "row 7, date: " in result.output
        assert "row 4, place: warning: No place called 'Pichanaqui'" in result.output
        assert "row 5, place: warning" not in result.output
        assert (
            "2 more problem(s) not listed (0 error(s), 2 warning(s)): the first 3 errors and the first 3 "
            "warnings are." in result.output
        )
        assert counts(app)["incidents"] == 0


def test_an_id_longer_than_the_database_keeps_is_refused_by_row(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A dry run must find what the real import would fail on: PostgreSQL refuses a 101-character id."""
    long_id = "x" * 101
    path = write(
        tmp_path, "ids.csv", f"id,date,place,country,type\n{long_id},2023-01-09,Juliaca,PE,killing\n"
    )
    for options in (["--dry-run"], []):
        result = run_import(runner, path, *options)
        assert result.exit_code == 1
        assert "row 2, id: The id is 101 characters long: at most 100." in result.output
        assert counts(app)["incidents"] == 0
    with FIXTURES.joinpath("ucdp_ged.csv").open(encoding="utf-8", newline="") as file:
        header, hxl, first, *_ = list(csv.reader(file))
    first[header.index("id")] = long_id
    out = io.StringIO()
    csv.writer(out).writerows([header, hxl, first])
    result = run_import(runner, write(tmp_path, "ucdp.csv", out.getvalue()))
    assert result.exit_code == 1
    assert "row 3, id: The id is 101 characters long: at most 100." in result.output
    assert counts(app)["incidents"] == 0


def test_a_dry_run_with_errors_still_lists_the_possible_duplicates_of_the_valid_rows(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The dry run is what a user fixes the file from: an error elsewhere does not hide the duplicates."""
    path = write(
        tmp_path,
        "rows.csv",
        "date,place,country,type\n"
        "2023-01-09,Juliaca,PE,killing\n2023-01-10,Juliaca,PE,killing\n2023-02-30,Juliaca,PE,killing\n",
    )
    result = run_import(runner, path, "--dry-run")
    assert result.exit_code == 1
    assert "row 4, date: " in result.output
    assert (
        "row 3: warning: May be the same event as row 2: same type, 0.0 km, 1 day(s) apart" in result.output
    )
    assert "1 possible duplicate(s) would be flagged for an editor." in result.output
    assert counts(app)["incidents"] == 0


def test_a_quote_never_closed_is_named_not_read_to_the_end_of_the_file(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """csv reads an unclosed quote to the end of the file without a word: the rows after it would vanish
    into one cell (and with --skip-invalid, silently)."""
    path = write(
        tmp_path,
        "quote.csv",
        "id,date,place,country,type\n"
        '1,2023-01-09,"Juliaca,PE,killing\n2,2023-01-09,Juliaca,PE,killing\n3,2023-01-10,Puno,PE,killing\n',
    )
    for options in (["--dry-run"], ["--skip-invalid"]):
        result = run_import(runner, path, *options)
        assert result.exit_code == 1
        assert 'file, row 2, place: A quote (") opened in this row is never closed' in result.output
        assert counts(app)["incidents"] == 0
    # A quoted value over several lines that closes, last in the file, is not one.
    closed = write(
        tmp_path,
        "closed.csv",
        'id,date,place,country,type,narrative\n1,2023-01-09,Juliaca,PE,killing,"Two\nlines, closed"\n',
    )
    result = run_import(runner, closed)
    assert result.exit_code == 0, result.output
    assert counts(app)["incidents"] == 1


def test_a_column_named_twice_is_refused(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write(
        tmp_path, "twice.csv", "date,place,Date,country,type\n2023-01-09,Juliaca,2023-01-10,PE,killing\n"
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert (
        "file, row 1, Date: The header names two columns 'Date' (columns 1 and 3): which one to read "
        "cannot be told. Rename or remove one." in result.output
    )
    assert counts(app)["incidents"] == 0
    # A column named twice that is not read is left alone (and named as not imported).
    notes = write(
        tmp_path, "notes.csv", "date,place,checked,country,Checked,type\n2023-01-09,Juliaca,a,PE,b,killing\n"
    )
    result = run_import(runner, notes)
    assert result.exit_code == 0, result.output
    assert "Column(s) not imported: checked, Checked." in result.output
    # UCDP's own columns: a repeated one that is read is refused too.
    with FIXTURES.joinpath("ucdp_ged.csv").open(encoding="utf-8", newline="") as file:
        header, hxl, first, *_ = list(csv.reader(file))
    out = io.StringIO()
    csv.writer(out).writerows([[*header, "best"], [*hxl, ""], [*first, "7"]])
    result = run_import(runner, write(tmp_path, "ucdp.csv", out.getvalue()))
    assert result.exit_code == 1
    assert (
        f"The header names two columns 'best' (columns {header.index('best') + 1} and {len(header) + 1})"
        in (result.output)
    )


def test_excel_sep_line_gives_the_delimiter(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    """Excel writes "sep=;" before the header (and shows the header as row 1)."""
    path = write(tmp_path, "sep.csv", "sep=;\r\ndate;place;country;type\r\n2023-01-09;Juliaca;PE;killing\r\n")
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "1 rows read (csv)." in result.output
    with app.app_context():
        assert db.session.scalars(sa.select(Incident.place_name)).one() == "Juliaca"
    bad = write(tmp_path, "sepbad.csv", "sep=;\ndate;place;country;type\n2023-02-30;Juliaca;PE;killing\n")
    assert "row 2, date: " in run_import(runner, bad).output


def test_dates_get_one_message_each_that_shows_the_value(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "dates.csv",
        "date,place,country,type\n"
        "44935,Juliaca,PE,killing\n09/01/2023,Juliaca,PE,killing\n2023-13-45,Juliaca,PE,killing\n",
    )
    result = run_import(runner, path, "--dry-run")
    assert result.exit_code == 1
    assert (
        "row 2, date: '44935' looks like a spreadsheet's day number, not a date: format the column as dates "
        "(YYYY-MM-DD) in the spreadsheet before saving it as CSV." in result.output
    )
    assert "row 3, date: '09/01/2023': write dates as YYYY-MM-DD, or give the date_format" in result.output
    assert "row 4, date: '2023-13-45' is not a valid date (YYYY-MM-DD)." in result.output
    # One message a cell: the reader's, not the schema's "Not a valid date." as well.
    assert result.output.count("row 2, date") == 1 and result.output.count("row 3, date") == 1
    assert "Not a valid date." not in result.output


@pytest.mark.parametrize("date_format", ["%Q", "%Y", "%m/%Y", "no percent", "%d/%d/%Y"])
def test_a_mapping_date_format_that_does_not_read_days_is_refused(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, date_format: str
) -> None:
    mapping = write(tmp_path, "mapping.json", json.dumps({"date_format": date_format}))
    path = write(tmp_path, "rows.csv", "date,place,country,type\n09/01/2023,Juliaca,PE,killing\n")
    result = run_import(runner, path, "--mapping", str(mapping))
    assert result.exit_code != 0
    assert f"The mapping file's date_format {date_format!r} does not read dates" in result.output
    assert counts(app)["incidents"] == 0


def test_json_that_is_not_what_the_format_says_is_told_what_it_is(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    load_demo(runner, "--publish")
    geojson = tmp_path / "export.geojson"
    assert runner.invoke(args=["export", "--format", "geojson", "-o", str(geojson)]).exit_code == 0
    before = counts(app)
    result = run_import(runner, geojson)
    assert result.exit_code == 1
    assert "This is a GeoJSON export of incidents (from this application)" in result.output
    assert "Import the JSON export of the same incidents instead" in result.output

    result = run_import(runner, FIXTURES / "ucdp_ged.geojson", "--format", "json")
    assert result.exit_code == 1
    assert "This is a GeoJSON FeatureCollection, not our own JSON export" in result.output
    assert "import it with --format ucdp (or auto)." in result.output
    assert counts(app) == before


def test_an_export_whose_types_or_figures_are_not_lists_is_refused_by_record(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A record of our own export with types or casualties of the wrong kind (the file edited by hand, its
    checksum made to match) is named, not a crash (it was a TypeError)."""
    load_demo(runner, "--publish")
    document = export_file(runner, tmp_path / "export.json")
    incidents = document["incidents"]
    assert isinstance(incidents, list)
    incidents[0]["types"] = 5
    incidents[1]["casualties"] = True
    header = document["header"]
    assert isinstance(header, dict)
    header["checksum"]["value"] = recomputed_checksum(document)
    path = write(tmp_path, "edited.json", json.dumps(document))
    empty_the_database(app)
    before = counts(app)
    result = run_import(runner, path)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "record 1, types: Not a valid list." in result.output
    assert "record 2, casualties: True is not a list of casualty figures." in result.output
    assert counts(app) == before


def test_identical_rows_without_an_id_column_are_told_as_such(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    row = "2023-01-09,Juliaca,PE,killing\n"
    result = run_import(runner, write(tmp_path, "same.csv", "date,place,country,type\n" + row + row))
    assert result.exit_code == 1
    assert (
        "row 3: The same as row 2, cell for cell. Without an id column a row is known by its content: remove "
        "the copy, or give the file an id column if they are two incidents." in result.output
    )
    assert "sha256" not in result.output
    assert counts(app)["incidents"] == 0


def test_a_character_cut_by_a_read_chunk_is_placed_right(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is checked a chunk at a time: a bad byte right after the first byte of a character at a
    chunk's end is reported at that character's own position, as the byte it is."""
    from incidents.importing import reading

    head = b"date,place,country,type\n2023-01-09,Juliaca,PE,killing\n2023-01-10,Puno,PE,kill"
    monkeypatch.setattr(reading, "_CHUNK", len(head) + 1)
    # \xc3 ends the first chunk (the start of "é"); "(" after it makes it no character.
    content = head + b"\xc3(ng\n"
    result = run_import(runner, write(tmp_path, "cut.csv", content), "--dry-run")
    assert result.exit_code == 1
    assert (
        f"file, row 3: The file is not UTF-8: the byte 0xC3 at row 3 (line 3), byte {len(head) + 1}, is not "
        "UTF-8" in result.output
    )


@pytest.mark.parametrize(
    ("date_format", "cell"),
    [
        ("%d/%m/%Y", "09/01/2023"),
        ("%Y-%m-%dT%H:%M:%S%z", "2023-01-09T10:00:00+0000"),
        ("%d/%m/%Y %Z", "09/01/2023 UTC"),
    ],
)
def test_a_mapping_date_format_with_a_time_or_a_zone_reads_days(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, date_format: str, cell: str
) -> None:
    mapping = write(tmp_path, "mapping.json", json.dumps({"date_format": date_format}))
    path = write(tmp_path, "rows.csv", f"date,place,country,type\n{cell},Juliaca,PE,killing\n")
    result = run_import(runner, path, "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalars(sa.select(Incident.start_date)).one() == dt.date(2023, 1, 9)


def test_figures_that_are_not_whole_numbers_are_shown_with_their_value(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    with FIXTURES.joinpath("ucdp_ged.csv").open(encoding="utf-8", newline="") as file:
        header, hxl, first, second, *_ = list(csv.reader(file))
    first[header.index("best")] = "6.5"
    second[header.index("low")] = ""
    out = io.StringIO()
    csv.writer(out).writerows([header, hxl, first, second])
    result = run_import(runner, write(tmp_path, "ucdp.csv", out.getvalue()))
    assert result.exit_code == 1
    assert "row 3, best: '6.5' is not a whole number written in digits (such as 6)." in result.output
    assert "row 4, low: Empty: not a whole number." in result.output
    assert "Not a valid integer." not in result.output


def test_a_csv_in_no_known_format_is_told_how_to_name_its_columns(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "odd.csv", "when,what\n2023-01-09,something\n")
    result = run_import(runner, path, "--format", "csv")
    assert result.exit_code == 1
    assert "0 rows read (csv)." in result.output  # the format chosen, though nothing could be read
    assert 'name its columns in a mapping file ("columns"), or give values for every row ("defaults")' in (
        result.output
    )

"""Any other CSV: columns found by header names or HXL hashtags, or given by a mapping; places geocoded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.models import Incident
from incidents.schemas.incident import incident_input
from incidents.services.incidents import update_incident
from incidents.vocabulary import DatePrecision, LocationMethod, LocationPrecision
from tests.helpers import FIXTURES, counts, incident, page, run_import, write


def test_columns_found_by_their_header_names(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(runner, FIXTURES / "generic_headers.csv")
    assert result.exit_code == 0, result.output
    assert "2 rows read (csv)." in result.output
    macusani = incident(app, "G-1")
    assert macusani.external_source == "csv:generic-headers"  # named after the file
    assert macusani.narrative == "Police fired on protesters\nin the main square."
    assert (macusani.perpetrators, macusani.victims) == ("National Police of Peru", "protesters")
    [citation] = macusani.citations
    assert (citation.source.title, citation.source.url) == ("Agencia Andina", "https://andina.pe/1")
    assert sorted((c.category.value, c.low, c.high) for c in citation.claims) == [
        ("injured", 4, 4),
        ("killed", 1, 1),
    ]
    assert incident(app, "G-2").types and {t.slug for t in incident(app, "G-2").types} == {
        "killing",
        "injury",
    }


def test_a_place_name_without_coordinates_is_geocoded(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(runner, FIXTURES / "generic_headers.csv")
    macusani = incident(app, "G-1")
    assert macusani.location_method == LocationMethod.GEOCODED
    assert (macusani.admin1, macusani.admin2, macusani.country) == ("Puno", "Provincia de Carabaya", "PE")
    assert macusani.latitude is not None and macusani.longitude is not None
    assert macusani.location_precision == LocationPrecision.NEAR  # a town of the gazetteer
    # Ayacucho in Peru is a region and a city: reported, not guessed; the row keeps its name, no point.
    # Row 3 as a spreadsheet shows it, though the quoted narrative above makes it line 4 of the file.
    assert "row 3, place: warning: 'Ayacucho' is ambiguous" in result.output
    ayacucho = incident(app, "G-2")
    assert ayacucho.latitude is None and ayacucho.place_name == "Ayacucho"
    assert ayacucho.location_precision == LocationPrecision.COUNTRY
    assert ayacucho.location_method == LocationMethod.RECORDED


def test_an_ambiguous_name_without_a_country_cannot_be_imported(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(
        tmp_path, "places.csv", "date,place,type\n2022-12-15,Ayacucho,killing\n2023-01-09,Juliaca,killing\n"
    )
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 2, place: 'Ayacucho' is ambiguous: 4 places have that name" in result.output
    # Each candidate says what it is and where, so that they can be told apart.
    assert "(Ayacucho (admin-1 region, PE); " in result.output
    assert "Ayacucho (populated place in Partido de Ayacucho, Buenos Aires, AR)" in result.output
    assert "Ayacucho (populated place in Provincia de Huamanga, Ayacucho, PE)" in result.output
    assert counts(app)["incidents"] == 0
    # Juliaca has one candidate: it is found, with its region and country.
    result = run_import(runner, path, "--skip-invalid")
    assert result.exit_code == 0, result.output
    with app.app_context():
        juliaca = db.session.scalars(sa.select(Incident)).one()
        assert (juliaca.place_name, juliaca.admin1, juliaca.country) == ("Juliaca", "Puno", "PE")
        assert juliaca.location_method == LocationMethod.GEOCODED


def test_a_place_not_in_the_gazetteer_is_reported(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "places.csv", "date,place,country,type\n2023-01-09,Pichanaqui,PE,killing\n")
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "row 2, place: warning: No place called 'Pichanaqui' was found in PE" in result.output
    assert counts(app)["incidents"] == 1


def test_hxl_hashtags_find_the_columns(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(runner, FIXTURES / "generic_hxl.csv")
    assert result.exit_code == 0, result.output
    assert "3 rows read (csv)." in result.output
    assert counts(app)["incidents"] == 3
    with app.app_context():
        rows = {i.place_name: i for i in db.session.scalars(sa.select(Incident))}
        airport = rows["near the airport"]
        assert airport.killed_low == 17 and airport.citations[0].source.title == "EFE"
        # A point with no admin regions: they are found from the point, which is kept as given.
        assert airport.location_method == LocationMethod.REVERSE_GEOCODED
        assert (airport.admin1, airport.latitude) == ("Puno", -15.4665)
        # Coordinates with no stated precision are "near" (about 25 km), never "exact".
        assert airport.location_precision == LocationPrecision.NEAR


def test_a_mapping_file_names_the_columns(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(
        runner, FIXTURES / "generic_mapped.csv", "--mapping", str(FIXTURES / "generic_mapping.json")
    )
    assert result.exit_code == 0, result.output
    juliaca = incident(app, "CN-001")
    assert juliaca.external_source == "csv:cnddhh-2023"
    assert [t.slug for t in juliaca.types] == ["killing"]
    assert juliaca.country == "PE"  # "Perú"
    claims = sorted((c.category.value, c.low, c.high) for c in juliaca.citations[0].claims)
    assert claims == [("injured", 33, 33), ("killed", 17, 18)]  # "17–18" is a range
    assert juliaca.citations[0].source.kind.value == "press"
    ilave = incident(app, "CN-002")
    assert [t.slug for t in ilave.types] == ["arrest_detention"]
    # "2023-01" is a month: the whole month, at month precision.
    assert ilave.date_precision == DatePrecision.MONTH
    assert (ilave.start_date, ilave.end_date) == (dt.date(2023, 1, 1), dt.date(2023, 1, 31))
    assert ilave.admin2 == "El Collao" and ilave.location_method == LocationMethod.GEOCODED
    assert incident(app, "CN-003").killed_low == 2


def test_column_and_default_options(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write(tmp_path, "odd.csv", "Cuando,Donde,Cuantos\n2023-01-09,Juliaca,17\n")
    missing = run_import(runner, path)
    assert missing.exit_code == 1
    assert "file, row 1: Required columns are missing: start_date" in missing.output
    options = ["--column", "start_date=Cuando", "--column", "place_name=Donde", "--column", "killed=Cuantos"]
    options += ["--default", "types=killing", "--default", "country=PE", "--dataset", "notes"]
    result = run_import(runner, path, *options)
    assert result.exit_code == 0, result.output
    with app.app_context():
        found = db.session.scalars(sa.select(Incident)).one()
        assert found.external_source == "csv:notes"
        assert found.killed_high == 17
        # Figures with no source column are cited to the file itself.
        assert found.citations[0].source.title == "notes (imported file)"
        assert found.title == "killing, Juliaca, 2023-01-09"
    # A row without an id is known by its content: the same file again adds nothing.
    again = run_import(runner, path, *options)
    assert "1 already imported before" in again.output


def test_a_bad_mapping_is_refused_before_anything(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    mapping = write(tmp_path, "map.json", '{"columns": {"when": "Fecha"}}')
    result = run_import(runner, FIXTURES / "generic_headers.csv", "--mapping", str(mapping))
    assert result.exit_code == 2
    assert "columns: unknown field(s) when" in result.output
    absent = write(tmp_path, "map2.json", '{"columns": {"start_date": "Fecha"}}')
    result = run_import(runner, FIXTURES / "generic_headers.csv", "--mapping", str(absent))
    assert result.exit_code == 1
    assert "The mapping names column(s) the file does not have: Fecha" in result.output


def test_dates_that_could_be_day_first_or_month_first_are_refused(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "slashes.csv", "date,country,type\n01/02/2023,PE,killing\n")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 2, date: '01/02/2023': write dates as YYYY-MM-DD" in result.output
    mapping = write(tmp_path, "map.json", '{"date_format": "%d/%m/%Y"}')
    assert run_import(runner, path, "--mapping", str(mapping)).exit_code == 0
    with app.app_context():
        assert db.session.scalars(sa.select(Incident.start_date)).one() == dt.date(2023, 2, 1)


def test_a_location_changed_by_hand_is_no_longer_marked_geocoded(
    app: Flask, runner: FlaskCliRunner, editor_client: FlaskClient
) -> None:
    assert run_import(runner, FIXTURES / "generic_headers.csv").exit_code == 0
    macusani = incident(app, "G-1")
    detail = editor_client.get(page(app, macusani.id)).get_data(as_text=True)
    assert "geocoded from the place name" in detail
    assert "imported from csv:generic-headers, id G-1" in detail
    form = editor_client.get(page(app, macusani.id, "/edit")).get_data(as_text=True)
    assert 'name="latitude"' in form
    with app.app_context():
        stored = db.session.get(Incident, macusani.id)
        assert stored is not None
        data = incident_input(stored)
        data["latitude"], data["longitude"] = -14.07, -70.43
        update_incident(stored, data, COMMAND_LINE, reason="a correction")
        db.session.commit()
        assert stored.location_method == LocationMethod.RECORDED


def test_a_stated_precision_finer_than_a_row_without_coordinates_has_is_not_kept(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """ "exact" with no point (and a place the gazetteer does not have) would invent precision: the row is as
    precise as its names, and the report says so."""
    path = write(
        tmp_path,
        "places.csv",
        "date,place,region,country,type,location_precision\n"
        "2023-01-09,Pichanaqui,Junín,PE,killing,exact\n"
        "2023-01-20,Pichanaqui,,PE,killing,near\n",
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert (
        "row 2, location_precision: warning: No coordinates: imported at admin1 precision, the finest its "
        "names allow, not exact." in result.output
    )
    assert (
        "row 3, location_precision: warning: No coordinates: imported at country precision" in result.output
    )
    with app.app_context():
        stored = db.session.execute(
            sa.select(Incident.location_precision, Incident.latitude).order_by(Incident.start_date)
        ).all()
    assert [(p.value, lat) for p, lat in stored] == [("admin1", None), ("country", None)]


def test_another_file_of_the_same_name_with_the_same_ids_is_not_taken_for_the_first(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A generic CSV's data set is its file name: a different file under that name, reusing its row ids,
    gets each row reported, not counted silently as imported."""
    first = write(tmp_path, "geo.csv", "id,date,place,country,type\n1,2023-01-09,Juliaca,PE,killing\n")
    assert run_import(runner, first).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    second = write(other, "geo.csv", "id,date,place,country,type\n1,2022-12-12,Andahuaylas,PE,killing\n")
    result = run_import(runner, second)
    assert result.exit_code == 0, result.output
    assert "row 2, id: warning: The id 1 was imported before (incident " in result.output
    assert "1 of them differ from the version imported before" in result.output
    # The same file again: nothing to say.
    again = run_import(runner, first)
    assert "1 already imported before: nothing new for them." in again.output
    assert "differ" not in again.output
    assert counts(app)["incidents"] == 1


def test_columns_that_are_not_imported_are_named(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extra.csv",
        "date,place,country,type,killed_low,killed_high,internal code\n"
        "2023-01-09,Juliaca,PE,killing,18,18,X\n",
    )
    for options in (["--dry-run"], []):
        result = run_import(runner, path, *options)
        assert result.exit_code == 0, result.output
        assert (
            "file: warning: Column(s) not imported: killed_low, killed_high, internal code. No field of an "
            "incident is found by these names" in result.output
        )
    assert counts(app)["incidents"] == 1
    # A file whose every column is read has nothing to say.
    plain = write(tmp_path, "plain.csv", "date,place,country,type\n2023-01-10,Puno,PE,killing\n")
    assert "not imported" not in run_import(runner, plain).output


def test_the_same_rows_with_columns_reordered_or_added_are_the_same_version(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    first = write(tmp_path, "geo.csv", "id,date,place,country,type\n1,2023-01-09,Juliaca,PE,killing\n")
    assert run_import(runner, first).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    reordered = write(
        other, "geo.csv", "type,country,checked,place,date,id\nkilling,PE,yes,Juliaca,2023-01-09,1\n"
    )
    result = run_import(runner, reordered)
    assert result.exit_code == 0, result.output
    assert "1 already imported before: nothing new for them." in result.output
    assert "differ" not in result.output


def test_the_data_set_given_wins_over_the_mapping_files_and_the_report_names_it(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    mapping = str(FIXTURES / "generic_mapping.json")  # its dataset: cnddhh-2023
    typed = run_import(
        runner, FIXTURES / "generic_mapped.csv", "--mapping", mapping, "--dataset", "Typed name"
    )
    assert typed.exit_code == 0, typed.output
    assert "Data set: csv:typed-name (a row imported into it before is known by its id)." in typed.output
    from_mapping = run_import(runner, FIXTURES / "generic_mapped.csv", "--mapping", mapping)
    assert "Data set: csv:cnddhh-2023" in from_mapping.output
    assert "already imported" not in from_mapping.output  # another data set: its rows are new there
    with app.app_context():
        sources = db.session.scalars(sa.select(Incident.external_source).distinct()).all()
    assert sorted(sources) == ["csv:cnddhh-2023", "csv:typed-name"]
    plain = write(
        tmp_path, "Lista final.csv", "id,date,place,country,type\n1,2023-01-09,Juliaca,PE,killing\n"
    )
    assert "Data set: csv:lista-final " in run_import(runner, plain).output
    # A name of spaces or dashes alone names nothing: the mapping file's is used.
    blank = run_import(runner, FIXTURES / "generic_mapped.csv", "--mapping", mapping, "--dataset", " -- ")
    assert "Data set: csv:cnddhh-2023" in blank.output


def test_a_date_precision_finer_than_the_date_is_not_kept(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "months.csv",
        "id,date,place,country,type,date_precision\n"
        "1,2023-05,Juliaca,PE,killing,day\n2,2023-05-12,Puno,PE,killing,month\n",
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert (
        "row 2, date_precision: warning: 'day' is finer than the date ('2023-05' is a month): imported at "
        "month precision." in result.output
    )
    assert "row 3, date_precision" not in result.output  # coarser than the date: the researcher knows better
    with app.app_context():
        rows = db.session.execute(
            sa.select(Incident.external_id, Incident.date_precision, Incident.start_date, Incident.end_date)
        ).all()
    got = {external_id: (p.value, start, end) for external_id, p, start, end in rows}
    assert got["1"] == ("month", dt.date(2023, 5, 1), dt.date(2023, 5, 31))
    assert got["2"][0] == "month"


def test_a_stored_source_is_found_whatever_the_case_and_spaces_of_its_title(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Within a file "Radio Onda Azul" and "radio  onda azul" are one source; against the database too."""
    first = write(
        tmp_path,
        "a.csv",
        "id,date,place,country,type,source\n1,2023-01-09,Juliaca,PE,killing,Radio Onda Azul\n",
    )
    assert "1 new source(s)" in run_import(runner, first).output
    second = write(
        tmp_path,
        "b.csv",
        "id,date,place,country,type,source\n"
        "1,2023-01-20,Puno,PE,killing,radio  onda azul\n2,2023-01-21,Puno,PE,killing,RADIO ONDA AZUL\n",
    )
    result = run_import(runner, second)
    assert result.exit_code == 0, result.output
    assert "2 incident(s) created, 0 new source(s)." in result.output
    assert counts(app)["sources"] == 1

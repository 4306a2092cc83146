"""Geocoding on import with the offline gazetteer, within the regions a row gives: Peruvian names, whose city,
province and region often share a name (Ayacucho, Puno, Lima).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.vocabulary import LocationMethod, LocationPrecision
from tests.helpers import incident, run_import, write

HEADER = "id,date,type,place,provincia,region,country\n"


def _import(runner: FlaskCliRunner, tmp_path: Path, rows: str) -> str:
    result = run_import(runner, write(tmp_path, "peru.csv", HEADER + rows))
    assert result.exit_code == 0, result.output
    return result.output


def _not_geocoded(app: Flask, external_id: str) -> tuple[object, ...]:
    found = incident(app, external_id)
    return found.latitude, found.longitude, found.location_method, found.location_precision


def test_a_region_that_contradicts_the_place_is_reported_and_nothing_is_guessed(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    output = _import(
        runner,
        tmp_path,
        "P-1,2023-01-09,killing,Juliaca,,Lima,PE\n"
        "P-2,2022-12-15,killing,Ayacucho,Huanta,Ayacucho,PE\n"
        "P-3,2023-01-09,killing,San Pedro,,Puno,PE\n",
    )
    # Juliaca is in Puno: it is not taken for a Juliaca in Lima, and the row keeps what it says.
    assert (
        "row 2, place: warning: No place called 'Juliaca' was found in 'Lima' (region): the gazetteer has it "
        "in Puno; imported without coordinates." in output
    )
    juliaca = incident(app, "P-1")
    assert (juliaca.place_name, juliaca.admin1, juliaca.admin2) == ("Juliaca", "Lima", "")
    # Without coordinates, at the precision its names allow.
    assert _not_geocoded(app, "P-1") == (None, None, LocationMethod.RECORDED, LocationPrecision.ADMIN1)
    # The same for an admin-2 region, and for a name the gazetteer has in other regions only.
    assert (
        "row 3, place: warning: No place called 'Ayacucho' was found in 'Huanta' (provincia): the gazetteer "
        "has it in Provincia de Huamanga; imported without coordinates." in output
    )
    assert _not_geocoded(app, "P-2") == (None, None, LocationMethod.RECORDED, LocationPrecision.ADMIN2)
    assert (
        "row 4, place: warning: No place called 'San Pedro' was found in 'Puno' (region): the gazetteer has "
        "places of that name in Ayacucho, Cusco and Ica; imported without coordinates." in output
    )
    assert _not_geocoded(app, "P-3") == (None, None, LocationMethod.RECORDED, LocationPrecision.ADMIN1)


def test_a_contradiction_without_a_country_is_an_error(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "peru.csv", HEADER + "P-1,2023-01-09,killing,Juliaca,,Lima,\n")
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert (
        "row 2, place: No place called 'Juliaca' was found in 'Lima' (region): the gazetteer has it in Puno; "
        "give the country or coordinates." in result.output
    )


def test_a_place_named_with_its_region_is_the_town_the_areas_of_its_name_contain(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # Ayacucho is a region and a city in it; Andahuaylas a province of Apurímac and a town in it; Puno a
    # region, a province and a city. Named with its region, each is the town.
    output = _import(
        runner,
        tmp_path,
        "P-1,2022-12-15,killing,Ayacucho,,Ayacucho,PE\n"
        "P-2,2022-12-11,killing,Andahuaylas,,Apurímac,PE\n"
        "P-3,2023-01-07,killing,Puno,Provincia de Puno,Puno,PE\n",
    )
    assert "warning" not in output, output
    ayacucho = incident(app, "P-1")
    assert (ayacucho.latitude, ayacucho.longitude) == (-13.15878, -74.22321)
    assert (ayacucho.admin1, ayacucho.admin2) == ("Ayacucho", "Provincia de Huamanga")
    assert ayacucho.location_precision == LocationPrecision.NEAR  # a town of the gazetteer
    assert ayacucho.location_method == LocationMethod.GEOCODED
    andahuaylas = incident(app, "P-2")
    assert (andahuaylas.latitude, andahuaylas.longitude) == (-13.65556, -73.38722)
    # The row's own region is kept as it wrote it; the admin-2 region is filled in.
    assert (andahuaylas.admin1, andahuaylas.admin2) == ("Apurímac", "Provincia de Andahuaylas")
    assert andahuaylas.location_precision == LocationPrecision.NEAR
    assert andahuaylas.location_method == LocationMethod.GEOCODED
    puno = incident(app, "P-3")
    assert (puno.latitude, puno.longitude, puno.location_precision) == (
        -15.8422,
        -70.0199,
        LocationPrecision.NEAR,
    )


def test_a_row_naming_only_its_region_is_geocoded_to_the_region(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    output = _import(
        runner,
        tmp_path,
        "P-1,2023-01-09,killing,,,Puno,PE\n"
        "P-2,2023-01-09,killing,,Lima,Lima,PE\n"
        "P-3,2023-01-09,killing,,,Juliaca,PE\n",
    )
    puno = incident(app, "P-1")
    # The region's point (the mean of its places), at admin-1 precision: not the city of Puno.
    assert (puno.latitude, puno.longitude) == (-15.15021, -70.00886)
    assert puno.location_precision == LocationPrecision.ADMIN1
    assert puno.location_method == LocationMethod.GEOCODED
    assert (puno.place_name, puno.admin1, puno.admin2, puno.country) == ("", "Puno", "", "PE")
    # An admin-2 region, within its admin-1 region: the province of Lima, at admin-2 precision.
    lima = incident(app, "P-2")
    assert (lima.latitude, lima.longitude) == (-12.06876, -76.91278)
    assert (lima.location_precision, lima.location_method) == (
        LocationPrecision.ADMIN2,
        LocationMethod.GEOCODED,
    )
    assert (lima.place_name, lima.admin1, lima.admin2) == ("", "Lima", "Lima")
    # A region column names a region, not a town of that name.
    assert (
        "row 4, region: warning: No admin-1 region called 'Juliaca' was found in PE: imported without "
        "coordinates." in output
    )
    assert _not_geocoded(app, "P-3") == (None, None, LocationMethod.RECORDED, LocationPrecision.ADMIN1)


def test_different_places_of_a_name_stay_ambiguous_and_are_told_apart(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    output = _import(
        runner,
        tmp_path,
        "P-1,2023-01-09,killing,Lima,,,PE\n"
        "P-2,2023-01-09,killing,Lima,,Lima,PE\n"
        "P-3,2023-01-09,killing,Santa Rosa,,Lambayeque,PE\n",
    )
    lima = (
        "3 places have that name (Lima (admin-1 region, PE); Lima (admin-2 region in Lima, PE); "
        "Lima (populated place in Lima, PE))"
    )
    hint = (
        "imported without coordinates, or add the admin-1 region, the admin-2 region or coordinates to "
        "choose."
    )
    assert f"row 2, place: warning: 'Lima' is ambiguous: {lima}; {hint}" in output
    assert _not_geocoded(app, "P-1") == (None, None, LocationMethod.RECORDED, LocationPrecision.COUNTRY)
    # With its region, Lima is the city: the gazetteer gives it no admin-2 region, which neither confirms nor
    # contradicts that the province of Lima holds it, and the areas of its name are no other place.
    assert "row 3," not in output
    assert _not_geocoded(app, "P-2") == (
        -12.04318,
        -77.02824,
        LocationMethod.GEOCODED,
        LocationPrecision.NEAR,
    )
    # Two towns of one name in one province read alike but for their coordinates.
    assert (
        "row 4, place: warning: 'Santa Rosa' is ambiguous: 2 places have that name ("
        "Santa Rosa (populated place in Provincia de Chiclayo, Lambayeque, PE, at -6.8811, -79.9197); "
        "Santa Rosa (populated place in Provincia de Chiclayo, Lambayeque, PE, at -6.7667, -79.8333)); "
        "imported without coordinates, or add coordinates to choose." in output
    )
    assert _not_geocoded(app, "P-3") == (None, None, LocationMethod.RECORDED, LocationPrecision.ADMIN1)


def test_a_name_with_more_candidates_than_one_answer_holds_is_found_in_its_region(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    # 24 towns in the United States are called Clinton; the first answer of 20 leaves out the one in Utah,
    # which must not read as a contradiction.
    output = _import(runner, tmp_path, "P-1,2023-01-09,killing,Clinton,,Utah,US\n")
    assert "warning" not in output, output
    clinton = incident(app, "P-1")
    assert (clinton.admin1, clinton.location_method) == ("Utah", LocationMethod.GEOCODED)
    assert clinton.location_precision == LocationPrecision.NEAR


def test_a_town_without_an_admin_2_region_stands_for_an_area_of_its_name_only_near_it(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Lima, Lima is the city: its province's point is 13 km away. Hidalgo, Tamaulipas is not taken for the
    town of Hidalgo: the municipality of that name lies 247 km from it, and which one the row means is not
    guessed."""
    output = _import(
        runner,
        tmp_path,
        "P-1,2023-01-09,killing,Lima,,Lima,PE\nM-1,2023-01-09,killing,Hidalgo,,Tamaulipas,MX\n",
    )
    assert "row 2," not in output
    assert "row 3, place: warning: 'Hidalgo' is ambiguous" in output
    assert _not_geocoded(app, "M-1") == (None, None, LocationMethod.RECORDED, LocationPrecision.ADMIN1)

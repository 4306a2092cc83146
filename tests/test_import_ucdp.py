"""UCDP GED imports: CSV with its HXL row and multi-line fields, GeoJSON, and the real Bangladesh sample."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.derived import map_cells
from incidents.domain.casualties import casualty_ranges
from incidents.extensions import db
from incidents.models import Incident, Source
from incidents.services.imports import bulk_writer
from incidents.vocabulary import (
    DatePrecision,
    LocationMethod,
    LocationPrecision,
    PublicationStatus,
    VerificationGrade,
)
from tests.helpers import FIXTURES, UCDP_SAMPLE, counts, incident, page, run_import, write

UCDP = FIXTURES / "ucdp_ged.csv"


def test_ucdp_csv_imports_every_event_with_dates_place_figures_and_source(
    app: Flask, runner: FlaskCliRunner
) -> None:
    result = run_import(runner, UCDP)
    assert result.exit_code == 0, result.output
    assert "5 rows read (ucdp)." in result.output
    assert "5 incident(s) created, 4 new source(s)." in result.output
    assert counts(app)["incidents"] == 5

    rangamati = incident(app, "73855")
    assert rangamati.external_source == "ucdp"
    assert rangamati.status == PublicationStatus.DRAFT
    assert rangamati.start_date == dt.date(1989, 9, 30) and rangamati.end_date is None
    assert rangamati.date_precision == DatePrecision.DAY
    assert rangamati.location_precision == LocationPrecision.NEAR  # where_prec 2
    assert (rangamati.place_name, rangamati.admin1, rangamati.admin2) == (
        "Rangamati town",
        "Chittagong Division",
        "Rangamati District",
    )
    assert rangamati.country == "BD"
    assert (rangamati.latitude, rangamati.longitude) == (22.643168, 92.191859)
    assert [t.slug for t in rangamati.types] == ["killing"]
    assert (rangamati.perpetrators, rangamati.victims) == ("JSS/SB", "Civilians")  # one-sided violence
    assert rangamati.verification_grade == VerificationGrade.FAIR  # two sources, clear event
    [citation] = rangamati.citations
    assert citation.source.title == "Separatist rebels kill six people in southern Bangladesh"
    assert citation.source.publisher == "Reuters"
    assert citation.source.publication_date == dt.date(1989, 10, 1)
    # The event's figure for the whole category, then UCDP's deaths per side, each a claim for its group.
    # One-sided violence: side B is the civilians, counted in deaths_civilians (deaths_b is 0): no claim.
    assert [(c.category.value, c.low, c.high, c.group) for c in citation.claims] == [
        ("killed", 6, 8, ""),
        ("killed", 0, 0, "JSS/SB (side A)"),
        ("killed", 6, 6, "civilians"),
        ("killed", 0, 0, "unknown status"),
    ]
    assert [(e.category.value, e.best) for e in rangamati.estimates] == [("killed", 6)]
    # The groups break the source's figure down; they do not widen the range as totals would (0–8).
    assert (rangamati.killed_low, rangamati.killed_high) == (6, 8)
    [killed] = casualty_ranges(rangamati)
    assert (killed.low, killed.high, killed.best, killed.source_count) == (6, 8, 6, 1)
    assert [(g.group, g.figure) for g in killed.groups] == [
        ("JSS/SB (side A)", "0"),
        ("civilians", "6"),
        ("unknown status", "0"),
    ]
    assert "civilians 6" in rangamati.narrative and "low 6, best 6, high 8" in rangamati.narrative


def test_multiline_source_and_span_precision(app: Flask, runner: FlaskCliRunner) -> None:
    assert run_import(runner, UCDP).exit_code == 0
    clashes = incident(app, "71663")
    assert clashes.date_precision == DatePrecision.SPAN
    assert (clashes.start_date, clashes.end_date) == (dt.date(2013, 12, 13), dt.date(2013, 12, 14))
    assert clashes.location_precision == LocationPrecision.EXACT
    # Both lines of the quoted field are one source's title and are kept whole in the narrative.
    title = clashes.citations[0].source.title
    assert title.startswith("SATP (Incidents involving NLFT") and "Seven killed in clashes" in title
    assert "BBC Monitoring Newsfile,2013-12-14" in clashes.narrative
    assert (
        clashes.perpetrators == "Supporters of Awami League; Supporters of BNP"
    )  # two sides, no victim side
    assert clashes.verification_grade == VerificationGrade.WEAK


def test_the_same_article_is_one_source(app: Flask, runner: FlaskCliRunner) -> None:
    assert run_import(runner, UCDP).exit_code == 0
    with app.app_context():
        reuters = db.session.scalars(
            sa.select(Source).where(
                Source.title == "Separatist rebels kill six people in southern Bangladesh"
            )
        ).all()
        assert len(reuters) == 1
        assert len(reuters[0].citations) == 2


def test_month_year_and_water_precision_are_not_made_finer(app: Flask, runner: FlaskCliRunner) -> None:
    assert run_import(runner, UCDP).exit_code == 0
    month = incident(app, "73893")
    assert month.date_precision == DatePrecision.MONTH
    assert (month.start_date, month.end_date) == (dt.date(1989, 9, 1), dt.date(1989, 9, 30))
    assert month.location_precision == LocationPrecision.ADMIN1  # where_prec 4
    assert month.admin2 == ""  # nothing filled below the level UCDP gives
    sea = incident(app, "51122")
    assert sea.date_precision == DatePrecision.YEAR
    # where_prec 7 (water or airspace) has no level of its own: the country, and the narrative says so.
    assert sea.location_precision == LocationPrecision.COUNTRY
    assert sea.admin1 == "" and sea.location_method == LocationMethod.RECORDED
    assert "where_prec 7: in water or international airspace" in sea.narrative
    # No source columns at all: the event is cited to the data set that coded it.
    assert sea.citations[0].source.title == "UCDP Georeferenced Event Dataset (GED)"


def test_a_point_without_admin_regions_is_reverse_geocoded(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(runner, UCDP)
    assert "1 given admin regions from their coordinates" in result.output
    dhaka = incident(app, "90001")
    assert dhaka.location_method == LocationMethod.REVERSE_GEOCODED
    assert dhaka.admin1 == "Dhaka"
    assert (dhaka.latitude, dhaka.longitude) == (23.723056, 90.408611)  # the point itself is kept
    assert dhaka.location_precision == LocationPrecision.EXACT


def test_importing_the_same_file_twice_creates_nothing_new(app: Flask, runner: FlaskCliRunner) -> None:
    assert run_import(runner, UCDP).exit_code == 0
    before = counts(app)
    again = run_import(runner, UCDP)
    assert again.exit_code == 0, again.output
    assert "0 incident(s) created, 0 new source(s)." in again.output
    assert "5 already imported before: nothing new for them." in again.output
    assert counts(app) == before


def test_dry_run_reports_and_writes_nothing(app: Flask, runner: FlaskCliRunner) -> None:
    before = counts(app)
    result = run_import(runner, UCDP, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run: nothing was written." in result.output
    assert "5 incident(s) would be created, 4 new source(s)." in result.output
    assert counts(app) == before


def test_publish_option(app: Flask, runner: FlaskCliRunner, client: FlaskClient) -> None:
    assert run_import(runner, UCDP, "--publish").exit_code == 0
    with app.app_context():
        statuses = set(db.session.scalars(sa.select(Incident.status)))
        rangamati_id = db.session.scalar(sa.select(Incident.id).where(Incident.external_id == "73855"))
    assert statuses == {PublicationStatus.PUBLISHED}
    assert rangamati_id is not None
    detail = client.get(page(app, rangamati_id)).get_data(as_text=True)
    assert "Killed: 6–8 (1 source, best estimate 6)" in detail


@pytest.mark.parametrize("rebuild_after", [1000, 1], ids=["added", "rebuilt"])
def test_imported_incidents_are_on_the_map_rollup(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch, rebuild_after: int
) -> None:
    """Small imports add their incidents to the rollup; large ones (here: more than 1) rebuild it."""
    monkeypatch.setattr(bulk_writer, "MAP_REBUILD_AFTER", rebuild_after)
    assert run_import(runner, UCDP, "--publish").exit_code == 0
    with app.app_context():
        from incidents.models import MapCell

        total = db.session.scalars(sa.select(MapCell).where(MapCell.level == 0)).one()
    assert total.incident_count == 5
    assert total.killed_high == 8 + 1 + 3 + 3 + 2


def test_ucdp_geojson(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_import(runner, FIXTURES / "ucdp_ged.geojson")
    assert result.exit_code == 0, result.output
    assert "2 features read (ucdp)." in result.output
    rangamati = incident(app, "73855")
    assert (rangamati.latitude, rangamati.longitude) == (22.643168, 92.191859)  # [lon, lat] in GeoJSON
    assert [(c.low, c.high, c.group) for c in rangamati.citations[0].claims] == [
        (6, 8, ""),
        (0, 0, "JSS/SB (side A)"),
        (6, 6, "civilians"),
        (0, 0, "unknown status"),
    ]
    # The same events from the CSV afterwards are recognised by their UCDP ids.
    again = run_import(runner, UCDP)
    assert "3 incident(s) created" in again.output and "2 already imported before" in again.output
    assert "differ" not in again.output  # the same events, whether from GeoJSON or CSV


def _sample_events() -> list[dict[str, str]]:
    with UCDP_SAMPLE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [row for row in rows if not row["id"].startswith("#") and row["id"]]


@pytest.mark.skipif(not UCDP_SAMPLE.exists(), reason=f"the real UCDP sample is not at {UCDP_SAMPLE}")
def test_the_real_ucdp_bangladesh_sample_imports_completely(app: Flask, runner: FlaskCliRunner) -> None:
    events = _sample_events()
    result = run_import(runner, UCDP_SAMPLE)
    assert result.exit_code == 0, result.output
    assert f"{len(events)} rows read (ucdp)." in result.output
    with app.app_context():
        stored = {i.external_id: i for i in db.session.scalars(sa.select(Incident))}
        assert len(stored) == len(events)
        codes = {"1": "day", "2": "span", "3": "week", "4": "month", "5": "year"}
        for event in events:
            found = stored[event["id"]]
            assert found.start_date.isoformat() == event["date_start"]
            assert (found.end_date or found.start_date).isoformat() == event["date_end"]
            assert found.date_precision.value == codes[event["date_prec"]]
            assert found.citations, event["id"]
            claim, *per_side = found.citations[0].claims
            low, best, high = int(event["low"]), int(event["best"]), int(event["high"])
            # UCDP's own figures; where its best lies outside low–high the range takes it in (and says so).
            assert (claim.low, claim.high, claim.group) == (min(low, best), max(high, best), "")
            assert (found.killed_low, found.killed_high) == (claim.low, claim.high)
            # The deaths per side, each a claim of its group, as UCDP gives them.
            expected = [
                (f"{event['side_a']} (side A)", int(event["deaths_a"]), int(event["deaths_a"])),
                (f"{event['side_b']} (side B)", int(event["deaths_b"]), int(event["deaths_b"])),
                ("civilians", int(event["deaths_civilians"]), int(event["deaths_civilians"])),
                ("unknown status", int(event["deaths_unknown"]), int(event["deaths_unknown"])),
            ]
            if event["type_of_violence"] == "3" and event["deaths_b"] == "0":
                del expected[1]  # one-sided: side B is the civilians, counted in deaths_civilians
            assert [(c.group, c.low, c.high) for c in per_side] == expected
            assert [e.best for e in found.estimates] == [best]
            assert f"low {low}, best {best}, high {high}" in found.narrative


def _ucdp_rows(**changes: dict[str, str]) -> str:
    """The fixture's CSV with cells changed: changes[event id] = {column: value}."""
    with UCDP.open(encoding="utf-8", newline="") as handle:
        header, hxl, *rows = list(csv.reader(handle))
    for row in rows:
        for column, value in changes.get(row[header.index("id")], {}).items():
            row[header.index(column)] = value
    out = io.StringIO()
    csv.writer(out).writerows([header, hxl, *rows])
    return out.getvalue()


def test_per_side_deaths_must_be_counts_that_add_up_to_best(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """The per-side deaths are claims per group; a negative or non-numeric one is an error by row and column,
    one over the largest count is said once (it is both the claim's low and its high), and a best that is
    not their sum (the codebook's definition) is a warning."""
    bad = write(tmp_path, "bad.csv", _ucdp_rows(**{"73855": {"deaths_civilians": "-5", "deaths_a": "abc"}}))
    result = run_import(runner, bad)
    assert result.exit_code == 1
    assert "row 3, deaths_a: 'abc' is not a whole number of deaths." in result.output
    assert "row 3, deaths_civilians: -5 deaths: a count cannot be negative." in result.output
    assert counts(app)["incidents"] == 0

    # Digits other than 0-9 ("²" passes str.isdigit and fails int; "٦" and "1_0" pass int) are not counts.
    odd = write(
        tmp_path, "odd.csv", _ucdp_rows(**{"73855": {"high": "²", "deaths_a": "٦", "deaths_b": "1_0"}})
    )
    result = run_import(runner, odd)
    assert result.exit_code == 1, result.output
    assert "row 3, deaths_a: '٦' is not a whole number of deaths." in result.output
    assert "row 3, deaths_b: '1_0' is not a whole number of deaths." in result.output
    assert "row 3, high:" in result.output and "Traceback" not in result.output
    assert counts(app)["incidents"] == 0

    huge = write(tmp_path, "huge.csv", _ucdp_rows(**{"73855": {"deaths_b": "99999999999999999999"}}))
    result = run_import(runner, huge)
    assert result.exit_code == 1
    assert result.output.count("row 3, deaths_b: Must be a whole number from 0 to 2147483647.") == 1
    assert counts(app)["incidents"] == 0

    # Deaths per side above UCDP's own high: the range takes them in (as it does a best outside it), and
    # the breakdown never adds up to more than the figure for the whole event.
    above = write(tmp_path, "above.csv", _ucdp_rows(**{"73855": {"deaths_a": "50"}}))
    result = run_import(runner, above)
    assert result.exit_code == 0, result.output
    assert (
        "row 3, high: warning: UCDP's deaths per side add up to 56, above its high estimate (8): the claim "
        "for the whole event is recorded as 6–56, and the figures as given are kept in the narrative."
        in result.output
    )
    rangamati = incident(app, "73855")
    assert (rangamati.killed_low, rangamati.killed_high) == (6, 56)
    assert [(c.low, c.high, c.group) for c in rangamati.citations[0].claims][:2] == [
        (6, 56, ""),
        (50, 50, "JSS/SB (side A)"),
    ]
    assert "low 6, best 6, high 8" in rangamati.narrative
    with app.app_context():
        db.session.execute(sa.delete(Incident))
        # SQL by hand: the map's rollup is rebuilt, as `flask --app incidents map-cells` would.
        map_cells.rebuild(db.session.connection())
        db.session.commit()

    off = write(tmp_path, "off.csv", _ucdp_rows(**{"73855": {"deaths_civilians": "4"}}))
    result = run_import(runner, off)
    assert result.exit_code == 0, result.output
    assert (
        "row 3, best: warning: UCDP's best estimate (6) is not the sum of its per-side deaths (4)."
        in result.output
    )


def test_an_exact_day_that_lasts_several_is_a_span(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "span.csv", _ucdp_rows(**{"73855": {"date_end": "1989-10-03"}}))
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert (
        "row 3, date_prec: warning: date_prec 1 (an exact day), but the event runs from 1989-09-30 to "
        "1989-10-03: recorded as a span of days." in result.output
    )
    rangamati = incident(app, "73855")
    assert (rangamati.date_precision, rangamati.end_date) == (DatePrecision.SPAN, dt.date(1989, 10, 3))


def test_geojson_counts_written_as_whole_floats(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    document = json.loads((FIXTURES / "ucdp_ged.geojson").read_text(encoding="utf-8"))
    properties = document["features"][0]["properties"]
    properties.update(low=6.0, best=6.0, high=8.0, where_prec=2.0, deaths_civilians=6.0)
    result = run_import(runner, write(tmp_path, "floats.geojson", json.dumps(document)))
    assert result.exit_code == 0, result.output
    rangamati = incident(app, "73855")
    claims = rangamati.citations[0].claims
    assert [(c.low, c.high) for c in claims] == [(6, 8), (0, 0), (6, 6), (0, 0)]
    assert [e.best for e in rangamati.estimates] == [6]


def test_a_new_version_of_a_known_event_is_reported_not_updated(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """UCDP revises events between releases: the same id with other content is listed, and left as stored
    (an import adds; an editor changes)."""
    assert run_import(runner, UCDP).exit_code == 0
    before = incident(app, "73855")
    revised = write(tmp_path, "revised.csv", _ucdp_rows(**{"73855": {"best": "7", "deaths_civilians": "7"}}))
    result = run_import(runner, revised)
    assert result.exit_code == 0, result.output
    assert (
        f"row 3, id: warning: The id 73855 was imported before (incident {before.id}) from a different "
        "version of this row: not updated." in result.output
    )
    assert "5 already imported before: nothing new for them." in result.output
    assert (
        "1 of them differ from the version imported before: not updated (each is a warning)." in result.output
    )
    assert [e.best for e in incident(app, "73855").estimates] == [6]
    assert counts(app)["incidents"] == 5


def test_a_bad_start_date_gets_its_error_and_no_span_warning(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    path = write(tmp_path, "bad.csv", _ucdp_rows(**{"73855": {"date_start": "1989-02-30"}}))
    result = run_import(runner, path)
    assert result.exit_code == 1
    assert "row 3, date_start: '1989-02-30' is not a valid date (YYYY-MM-DD)." in result.output
    assert "date_prec" not in result.output


def test_long_side_names_keep_their_side_in_the_group(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """A group is at most 200 characters: a long side name is cut, never its "(side A)", so two long names
    that begin alike stay two groups."""
    coalition = "Government of " + "Allied State, " * 25
    path = write(
        tmp_path,
        "long.csv",
        _ucdp_rows(**{"73855": {"side_a": coalition + "A", "side_b": coalition + "B", "deaths_b": "1"}}),
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    claims = incident(app, "73855").citations[0].claims
    side_a, side_b = claims[1].group, claims[2].group
    assert side_a.endswith("… (side A)") and side_b.endswith("… (side B)")
    assert len(side_a) <= 200 and len(side_b) <= 200
    assert side_a.startswith("Government of Allied State,") and (claims[2].low, claims[2].high) == (1, 1)

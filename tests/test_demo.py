"""The demo data set: loaded by `flask load-demo`, shown with its ranges and sources, totals that add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from markupsafe import escape

import incidents.services.demo
from incidents.domain.casualties import casualty_ranges, total_ranges
from incidents.extensions import db
from incidents.models import Incident, Source
from incidents.services.demo import DemoDataError, demo_data_path, load_demo
from incidents.vocabulary import CasualtyCategory, LocationPrecision, PublicationStatus
from tests import factories, helpers

ANDAHUAYLAS = "Andahuaylas: two protesters killed in clashes near the airfield"
APURIMAC = "Apurímac: deaths and injuries in protests across the region"
AYACUCHO = "Ayacucho: security forces fire on protesters near the airport"
JULIACA = "Juliaca: police fire on protesters near the airport"
SAN_MARCOS = "Police raid San Marcos University and detain people housed on the campus"
STATE_OF_EMERGENCY = "Nationwide 30-day state of emergency"


def incident_id(app: Flask, title: str) -> int:
    with app.app_context():
        return db.session.scalars(sa.select(Incident.id).where(Incident.title == title)).one()


def page(client: FlaskClient, app: Flask, title: str) -> str:
    response = client.get(helpers.page(app, incident_id(app, title)))
    assert response.status_code == 200
    return response.get_data(as_text=True)


def count(app: Flask, model: type[Incident] | type[Source]) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def test_load_demo_publishes_eleven_incidents(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    assert "Loaded 11 demo incidents (published)." in factories.load_demo(runner)
    with app.app_context():
        statuses = db.session.scalars(sa.select(Incident.status)).all()
    assert len(statuses) == 11
    assert set(statuses) == {PublicationStatus.PUBLISHED}
    listing = client.get("/incidents/").get_data(as_text=True)
    assert "11 incidents" in listing
    assert str(escape(JULIACA)) in listing


def test_juliaca_shows_the_range_and_the_sources_behind_both_ends(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    factories.load_demo(runner)
    html = page(client, app, JULIACA)
    assert "Killed: 17–18" in html
    assert "Injured: 33" in html
    # 17 killed: EFE and Euronews; 18 killed: Diario Correo, Crisis24, La República.
    for title in (
        "[EFE report on the deaths in Juliaca, January 2023]",
        "[Euronews report on the extension of the state of emergency, 15 January 2023]",
        "[Diario Correo report on the deaths in Juliaca, January 2023]",
        "[La República report on the deaths in Juliaca and the curfews, 10 January 2023]",
    ):
        assert str(escape(title)) in html
    with app.app_context():
        juliaca = db.session.get(Incident, incident_id(app, JULIACA))
        assert juliaca is not None
        killed = {
            (c.source.publisher, k.low, k.high)
            for c in juliaca.citations
            for k in c.claims
            if k.category == CasualtyCategory.KILLED
        }
    assert ("EFE", 17, 17) in killed
    assert ("Diario Correo", 18, 18) in killed


def test_ayacucho_shows_eight_to_ten_killed(app: Flask, runner: FlaskCliRunner, client: FlaskClient) -> None:
    factories.load_demo(runner)
    html = page(client, app, AYACUCHO)
    assert "Killed: 8–10" in html
    assert "Injured: 26" in html


def test_san_marcos_shows_the_detained_range(app: Flask, runner: FlaskCliRunner, client: FlaskClient) -> None:
    factories.load_demo(runner)
    html = page(client, app, SAN_MARCOS)
    assert "Detained: 193–205" in html
    assert "best estimate 193" in html


def test_national_state_of_emergency_has_no_casualties(
    app: Flask, runner: FlaskCliRunner, client: FlaskClient
) -> None:
    factories.load_demo(runner)
    html = page(client, app, STATE_OF_EMERGENCY)
    assert "No casualty figures recorded." in html
    with app.app_context():
        incident = db.session.get(Incident, incident_id(app, STATE_OF_EMERGENCY))
        assert incident is not None
        assert casualty_ranges(incident) == []
        assert incident.location_precision == LocationPrecision.COUNTRY


def test_if_empty_loads_nothing_the_second_time(app: Flask, runner: FlaskCliRunner) -> None:
    factories.load_demo(runner, "--if-empty")
    sources = count(app, Source)
    output = factories.load_demo(runner, "--if-empty")
    assert "nothing loaded" in output
    assert count(app, Incident) == 11
    assert count(app, Source) == sources


def test_draft_is_hidden_from_the_public_and_shown_to_editors(
    app: Flask, runner: FlaskCliRunner, editor_client: FlaskClient
) -> None:
    assert "Loaded 11 demo incidents (draft)." in factories.load_demo(runner, "--draft")
    public = app.test_client()
    listing = public.get("/incidents/").get_data(as_text=True)
    assert "0 incidents" in listing
    assert str(escape(JULIACA)) not in listing
    assert public.get(helpers.page(app, incident_id(app, JULIACA))).status_code == 404
    assert public.get(f"/incidents/{incident_id(app, JULIACA)}").status_code == 404

    staff_listing = editor_client.get("/incidents/").get_data(as_text=True)
    assert "11 incidents" in staff_listing
    assert str(escape(JULIACA)) in staff_listing
    assert editor_client.get(helpers.page(app, incident_id(app, JULIACA))).status_code == 200
    # The number it has in the database, as staff bookmarked it before public ids, leads to the same page.
    numbered = editor_client.get(f"/incidents/{incident_id(app, JULIACA)}")
    assert numbered.status_code == 301
    assert numbered.headers["Location"] == helpers.page(app, incident_id(app, JULIACA))


def test_totals_add_lows_and_highs_and_fit_the_reported_totals(app: Flask, runner: FlaskCliRunner) -> None:
    factories.load_demo(runner)
    with app.app_context():
        everything = db.session.scalars(sa.select(Incident)).all()
        ranges = {incident.title: casualty_ranges(incident) for incident in everything}
    totals = {t.category: t for t in total_ranges(r for rs in ranges.values() for r in rs)}

    # Killed, by hand from the data file: Andahuaylas 2, Apurímac 6, Ayacucho 8–10, Juliaca 17–18.
    killed = totals[CasualtyCategory.KILLED]
    assert (killed.low, killed.high) == (2 + 6 + 8 + 17, 2 + 6 + 10 + 18) == (33, 36)
    assert killed.incident_count == 4
    # Injured: Andahuaylas 25–31 ("over 30" is 31), Apurímac 67, Ayacucho 26, Juliaca 33.
    injured = totals[CasualtyCategory.INJURED]
    assert (injured.low, injured.high, injured.incident_count) == (151, 157, 4)
    # Detained: San Marcos only, 193 (prosecutor) to 205 (Prensa Regional).
    detained = totals[CasualtyCategory.DETAINED]
    assert (detained.low, detained.high, detained.incident_count) == (193, 205, 1)
    assert set(totals) == {CasualtyCategory.KILLED, CasualtyCategory.INJURED, CasualtyCategory.DETAINED}

    # Consistency with the totals reported for the period. The Apurímac count (6, 10–14 December) already
    # holds the two Andahuaylas deaths, so the sum counts them twice: distinct deaths are 31–34.
    def killed_in(title: str) -> tuple[int, int]:
        (r,) = [r for r in ranges[title] if r.category == CasualtyCategory.KILLED]
        return r.low, r.high

    assert killed_in(ANDAHUAYLAS) == (2, 2)
    assert killed_in(APURIMAC) == (6, 6)
    distinct_low, distinct_high = killed.low - 2, killed.high - 2
    assert (distinct_low, distinct_high) == (31, 34)
    # Health ministry about 18 December: 9 dead in Ayacucho, within the Ayacucho range of 8–10.
    low, high = killed_in(AYACUCHO)
    assert low <= 9 <= high
    # Health ministry about 18 December: 24 dead in all; the December incidents here hold 14–16 of them.
    december = [i for i in everything if i.start_date.month == 12]
    december_killed = total_ranges(
        r for i in december for r in casualty_ranges(i) if r.category == CasualtyCategory.KILLED
    )
    assert (december_killed[0].low - 2, december_killed[0].high - 2) == (14, 16)
    assert december_killed[0].high - 2 <= 24
    # Human Rights Watch counted 50 protesters and bystanders killed December–February; Amnesty 49
    # protesters: the incidents here are a part of that, never more.
    assert distinct_high <= 49


def write_demo(tmp_path: Path, incident: dict[str, object]) -> Path:
    document = json.loads(demo_data_path().read_text(encoding="utf-8"))
    document["incidents"] = [incident]
    path = tmp_path / "demo.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def broken_incident() -> dict[str, object]:
    return {
        "title": "Broken figures",
        "types": ["killing"],
        "start_date": "2023-01-09",
        "date_precision": "day",
        "country": "PE",
        "location_precision": "country",
        "verification_grade": "weak",
        "citations": [
            {"source_key": "efe-juliaca-2023-01", "claims": [{"category": "killed", "low": 5, "high": 3}]}
        ],
    }


def test_a_bad_figure_is_reported_with_its_incident_and_field(app: Flask, tmp_path: Path) -> None:
    path = write_demo(tmp_path, broken_incident())
    with app.app_context():
        with pytest.raises(DemoDataError) as caught:
            load_demo(path, publish=True)
        db.session.rollback()
    message = str(caught.value)
    assert "incidents[0] ('Broken figures')" in message
    assert "citations[0].claims[0].high" in message


def test_an_unknown_source_key_is_reported(app: Flask, tmp_path: Path) -> None:
    incident = broken_incident()
    incident["citations"] = [{"source_key": "no-such-source"}]
    path = write_demo(tmp_path, incident)
    with app.app_context():
        with pytest.raises(DemoDataError, match=r"citations\[0\]\.source_key: no source has the key"):
            load_demo(path, publish=True)
        db.session.rollback()


def test_the_command_rolls_back_and_fails_on_bad_data(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_demo(tmp_path, broken_incident())
    monkeypatch.setattr(incidents.services.demo, "demo_data_path", lambda: path)
    result = runner.invoke(args=["load-demo"])
    assert result.exit_code != 0
    assert "citations[0].claims[0].high" in result.output
    assert count(app, Incident) == 0
    assert count(app, Source) == 0

"""Possible duplicates: flagged on manual entry and on import, resolved by editors; never merged silently."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.domain.duplicates import Footprint, FootprintIndex
from incidents.extensions import db
from incidents.models import DuplicateFlag, Incident, User
from incidents.public_ids import ALPHABET, LETTERS
from incidents.services.incidents import retract_incident
from incidents.vocabulary import DuplicateStatus, PublicationStatus, Role
from tests.factories import juliaca_form, publish
from tests.helpers import FIXTURES, counts, id_of_public, login, page, public_id, run_import

# The same event as juliaca_form, entered by someone else from another source: a day later, 3 km away.
SECOND = {
    "title": "Juliaca: deaths at the airport protest",
    "start_date": "2023-01-10",
    "latitude": "-15.473",
    "longitude": "-70.13333",
    "citations-0-source-title": "Juliaca: 17 muertos en protestas",
    "citations-0-source-publisher": "La República",
    "best-killed": "",
}


def form(**overrides: str) -> dict[str, object]:
    """juliaca_form with overrides; the SECOND event has one source only."""
    data = juliaca_form(**overrides)
    if overrides.get("title") == SECOND["title"] or overrides.get("title", "").startswith("Juliaca airport"):
        data = {key: value for key, value in data.items() if not key.startswith("citations-1-")}
    return data


def save(app: Flask, client: FlaskClient, **overrides: str) -> tuple[int, str]:
    """The incident saved (its database id) and the page the save led to."""
    response = client.post("/incidents/new", data=form(**overrides), follow_redirects=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    html = response.get_data(as_text=True)
    found = re.search(rf'href="/incidents/([{LETTERS}][{ALPHABET}]{{11}})/edit"', html)
    assert found
    return id_of_public(app, found.group(1)), html


def flags(app: Flask) -> list[tuple[int, int, float | None, int, DuplicateStatus]]:
    with app.app_context():
        return [
            (f.incident_id, f.candidate_id, f.distance_km, f.days_apart, f.status)
            for f in db.session.scalars(sa.select(DuplicateFlag).order_by(DuplicateFlag.id))
        ]


def test_manual_entry_flags_a_possible_duplicate(app: Flask, editor_client: FlaskClient) -> None:
    first, _ = save(app, editor_client)
    second, html = save(app, editor_client, **SECOND)
    first_public = public_id(app, first)
    title = "Police fire on protesters near Juliaca airport"
    assert f"Possible duplicate of incident {first_public} “{title}”" in html
    assert f'<a href="/incidents/{first_public}">incident {first_public}:' in html
    assert "Possible duplicates (1)" in html
    assert "Not a duplicate" in html and f"Merge incident {first_public} into this one" in html
    [(incident_id, candidate_id, km, days, status)] = flags(app)
    assert (incident_id, candidate_id, days, status) == (second, first, 1, DuplicateStatus.OPEN)
    assert km is not None and 2.5 < km < 3.5  # geodesic, 0.027 degrees of latitude
    # Both stay as entered: nothing merged.
    assert counts(app)["incidents"] == 2
    # The earlier incident's page shows the flag too.
    assert "Possible duplicates (1)" in editor_client.get(page(app, first)).get_data(as_text=True)


def test_no_flag_when_type_place_or_date_differ(app: Flask, editor_client: FlaskClient) -> None:
    save(app, editor_client)
    save(app, editor_client, **{**SECOND, "types": ["curfew"]})  # another type
    save(app, editor_client, **{**SECOND, "latitude": "-15.8402", "longitude": "-70.0219"})  # Puno, 40 km
    save(app, editor_client, **{**SECOND, "start_date": "2023-01-13"})  # 4 days later
    assert flags(app) == []


def test_saving_again_does_not_flag_the_pair_twice(app: Flask, editor_client: FlaskClient) -> None:
    save(app, editor_client)
    second, _ = save(app, editor_client, **SECOND)
    edit = editor_client.post(
        page(app, second, "/edit"),
        data=form(**{**SECOND, "title": "Juliaca airport (edited)", "version": "1"}),
    )
    assert edit.status_code == 302
    assert len(flags(app)) == 1


def test_confirm_distinct(app: Flask, editor_client: FlaskClient) -> None:
    first, _ = save(app, editor_client)
    second, _ = save(app, editor_client, **SECOND)
    with app.app_context():
        flag_id = db.session.scalar(sa.select(DuplicateFlag.id))
    distinct = page(app, second, f"/duplicates/{flag_id}/distinct")
    response = editor_client.post(distinct, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert f"Incidents {public_id(app, first)} and {public_id(app, second)} are recorded as distinct." in html
    assert "Possible duplicates" not in html
    assert flags(app)[0][4] == DuplicateStatus.DISTINCT
    # Asked again, by the number staff may still use in its URL: the same flag, resolved already.
    again = editor_client.post(f"/incidents/{second}/duplicates/{flag_id}/distinct", follow_redirects=True)
    assert "resolved already" in again.get_data(as_text=True)


def test_merge_copies_the_citations_and_retracts_the_other(app: Flask, editor_client: FlaskClient) -> None:
    first, _ = save(app, editor_client)
    second, _ = save(app, editor_client, **SECOND)
    with app.app_context():
        flag_id = db.session.scalar(sa.select(DuplicateFlag.id))
    gone_into = public_id(app, first)
    response = editor_client.post(page(app, first, f"/duplicates/{flag_id}/merge"), follow_redirects=True)
    html = response.get_data(as_text=True)
    assert f"Incident {public_id(app, second)} was merged into this one and retracted." in html
    assert "Juliaca: 17 muertos en protestas" in html  # the other's source, now cited here
    with app.app_context():
        kept = db.session.get(Incident, first)
        gone = db.session.get(Incident, second)
        assert kept is not None and gone is not None
        assert len(kept.citations) == 3
        assert (kept.killed_low, kept.killed_high, kept.source_count) == (17, 18, 3)
        assert gone.status == PublicationStatus.RETRACTED
        assert f"Merged into incident {gone_into} (“{kept.title}”)" in gone.confidential_notes
        assert len(gone.citations) == 1  # its own record is kept as it was
    assert flags(app)[0][4] == DuplicateStatus.MERGED


def test_import_flags_incidents_near_existing_ones(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner
) -> None:
    manual, _ = save(app, editor_client)
    result = run_import(runner, FIXTURES / "acled.csv")
    assert result.exit_code == 0, result.output
    assert f"row 2: warning: May be the same event as incident {manual}: same type" in result.output
    assert "1 possible duplicate(s) flagged for an editor." in result.output
    with app.app_context():
        imported = db.session.scalar(sa.select(Incident.id).where(Incident.external_id == "PER12001"))
    assert [(f[0], f[1], f[4]) for f in flags(app)] == [(imported, manual, DuplicateStatus.OPEN)]
    assert counts(app)["incidents"] == 4  # both kept


def test_a_dry_run_names_possible_duplicates_and_flags_nothing(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner
) -> None:
    manual, _ = save(app, editor_client)
    result = run_import(runner, FIXTURES / "acled.csv", "--dry-run")
    assert f"May be the same event as incident {manual}" in result.output
    assert "1 possible duplicate(s) would be flagged for an editor." in result.output
    assert flags(app) == []


def test_the_index_finds_neighbours_within_10_km_across_cells_and_the_antimeridian() -> None:
    day = dt.date(2023, 1, 9)
    points = {1: (0.0, 179.99), 2: (0.0, -179.99), 3: (0.05, 179.95), 4: (60.0, 10.0), 5: (60.0, 10.17)}
    points |= {6: (60.0, 10.2), 7: (60.0, 10.4)}
    index = FootprintIndex()
    for key, (latitude, longitude) in points.items():
        index.add(Footprint.make(key, day, None, latitude, longitude, "", "XX", [1]))

    def near(key: int) -> dict[int, float | None]:
        footprint = Footprint.make(key, day, None, *points[key], "", "XX", [1])
        return {m.other.key: m.distance_km for m in index.matches(footprint)}

    assert near(1) == {2: 2.226, 3: 7.099}  # 2 lies across the 180th meridian
    assert near(5) == {4: 9.486, 6: 1.674}  # 10.17 km east at 60° north is 9.5 km
    assert near(7) == {}  # 11.1 km from 6
    # A day more than 3 apart, or another type, is no match.
    assert (
        list(index.matches(Footprint.make(9, day + dt.timedelta(days=4), None, 0.0, 179.99, "", "XX", [1])))
        == []
    )
    assert list(index.matches(Footprint.make(9, day, None, 0.0, 179.99, "", "XX", [2]))) == []


def test_a_published_incident_is_not_merged_into_a_draft(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner, make_user: Callable[..., User]
) -> None:
    """Merging retracts the other incident: a published one merged into an imported draft would leave the
    public site with nothing of the event. The merge goes the other way, or the draft is published first."""
    manual, _ = save(app, editor_client)
    publish(app, manual)
    assert run_import(runner, FIXTURES / "acled.csv").exit_code == 0  # drafts
    with app.app_context():
        draft = db.session.scalar(sa.select(Incident.id).where(Incident.external_id == "PER12001"))
        flag_id = db.session.scalar(sa.select(DuplicateFlag.id))
    # The draft's page does not offer it; it points to the published incident's page, which does.
    assert draft is not None
    manual_public, draft_public = public_id(app, manual), public_id(app, draft)
    draft_page = editor_client.get(page(app, draft)).get_data(as_text=True)
    assert f"Merge incident {manual_public} into this one" not in draft_page
    assert f"To merge, keep incident {manual_public}: merge this one into it from" in draft_page
    published_page = editor_client.get(page(app, manual)).get_data(as_text=True)
    assert f"Merge incident {draft_public} into this one" in published_page
    # Asked all the same (an old page, a hand-made request), it is refused.
    response = editor_client.post(page(app, draft, f"/duplicates/{flag_id}/merge"), follow_redirects=True)
    html = response.get_data(as_text=True)
    assert (
        f"Incident {manual_public} is published and this one is a draft: merging would take the event off"
        in html
    )
    with app.app_context():
        published = db.session.get(Incident, manual)
        assert published is not None and published.status == PublicationStatus.PUBLISHED
    assert flags(app)[0][4] == DuplicateStatus.OPEN
    # The other way: the draft's citations join the published incident, and the draft is retracted. A
    # published incident is changed by a reviewer; its new sources become public, which is asked first.
    merge = page(app, manual, f"/duplicates/{flag_id}/merge")
    response = editor_client.post(merge, follow_redirects=True)
    assert "A published incident is corrected by a reviewer or an admin" in response.get_data(as_text=True)
    make_user("reviewer@example.org", Role.REVIEWER)
    reviewer = app.test_client()
    assert login(reviewer, "reviewer@example.org").status_code == 302
    asked = reviewer.post(merge, follow_redirects=True)
    html = asked.get_data(as_text=True)
    assert "Merging makes 1 source(s) public that no published incident cites yet" in html
    assert f"Merge incident {draft_public} and make its sources public" in html
    assert flags(app)[0][4] == DuplicateStatus.OPEN  # nothing merged yet
    response = reviewer.post(merge, data={"confirmed": "yes"}, follow_redirects=True)
    merged = response.get_data(as_text=True)
    assert f"Incident {draft_public} was merged into this one and retracted." in merged


def test_nothing_is_merged_into_a_retracted_incident(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner
) -> None:
    assert runner.invoke(args=["import", str(FIXTURES / "acled.csv")]).exit_code == 0  # drafts
    with app.app_context():
        imported_id = db.session.scalar(sa.select(Incident.id).where(Incident.external_id == "PER12001"))
    assert imported_id is not None
    publish(app, imported_id)  # no flag yet: the manual entry comes after
    manual, _ = save(app, editor_client)  # flagged as a possible duplicate of the published import
    with app.app_context():
        imported = db.session.get_one(Incident, imported_id)
        retract_incident(imported, COMMAND_LINE, reason="a rumour after all", version=imported.version)
        db.session.commit()
        flag_id = db.session.scalar(sa.select(DuplicateFlag.id))
    assert flag_id is not None
    merge = page(app, imported_id, f"/duplicates/{flag_id}/merge")
    response = editor_client.post(merge, follow_redirects=True)
    assert (
        f"This incident is retracted: merging would retract incident {public_id(app, manual)} too"
        in response.get_data(as_text=True)
    )
    with app.app_context():
        kept = db.session.get(Incident, manual)
        assert kept is not None and kept.status == PublicationStatus.DRAFT  # not retracted by the merge


def test_a_merge_that_would_leave_the_best_estimate_outside_the_range_is_refused(
    app: Flask, editor_client: FlaskClient
) -> None:
    """A source's figure for the whole category narrows a range made of figures per group only: the kept
    incident's best estimate may then lie outside it. The merge is refused, saying so; nothing changes."""
    first, _ = save(
        app,
        editor_client,
        title="Juliaca airport: civilians killed",
        **{"citations-0-claims-0-low": "12", "citations-0-claims-0-group": "civilians", "best-killed": "12"},
    )
    second, _ = save(app, editor_client, **{**SECOND, "citations-0-claims-0-low": "20"})
    with app.app_context():
        flag_id = db.session.scalar(sa.select(DuplicateFlag.id))
        before = [
            (i.id, i.version, i.status, i.killed_low, i.killed_high)
            for i in db.session.scalars(sa.select(Incident))
        ]
    response = editor_client.post(page(app, first, f"/duplicates/{flag_id}/merge"), follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (
        f"Merged with incident {public_id(app, second)}, this incident would not be valid (best estimate: "
        "Must lie within the sources&#39; range (20).). Edit this incident first (for example its best "
        "estimate), then merge."
    ) in html
    with app.app_context():
        after = [
            (i.id, i.version, i.status, i.killed_low, i.killed_high)
            for i in db.session.scalars(sa.select(Incident))
        ]
    assert after == before
    assert flags(app)[0][4] == DuplicateStatus.OPEN

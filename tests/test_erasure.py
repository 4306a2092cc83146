"""Erasure: an incident or a source gone for good, from every output, the audit trail's values and (SQLite)
the database's files, while the audit trail still verifies."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents import audit
from incidents.audit import COMMAND_LINE
from incidents.audit.digest import tombstone
from incidents.domain.duplicates import open_flags
from incidents.extensions import db
from incidents.models import AuditEntry, Incident, MapCell, Source, User
from incidents.schemas.incident import incident_input
from incidents.services.duplicates import merge
from incidents.services.incidents import update_incident
from incidents.services.sources import create_source, update_source
from incidents.vocabulary import PublicationStatus, Role
from tests.factories import create_api_token, killed
from tests.helpers import checked_audit_copy, counts, export_file, export_json, login, public_id

MARKER = "ERASE-MARKER-5e1f"
ADMIN = "admin@example.org"


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(ADMIN, Role.ADMIN)


def _witnessed(app: Flask, add_incident: Callable[..., int]) -> int:
    """A published incident with the marker in every text it has (an indexed column among them), a witness's
    testimony that only it cites, and a correction that overwrote its confidential notes."""
    incident_id = add_incident(
        f"Detention of the witness {MARKER}",
        narrative=f"Taken from home ({MARKER}).",
        place_name=f"Barrio {MARKER}",
        admin1=f"Puno {MARKER}",
        admin2=f"San Román {MARKER}",
        latitude=-15.49,
        longitude=-70.12,
        perpetrators=f"Unit {MARKER}",
        victims=f"Family {MARKER}",
        confidential_notes=f"Phone of {MARKER}: 555 0100",
        location_sensitive=True,
        location_sensitive_reason=f"Her home: {MARKER}",
        types=["arrest_detention"],
        start_date="2023-02-03",
        citations=[
            {
                "source": {"title": f"Testimony of {MARKER}", "kind": "witness_testimony", "author": MARKER},
                "locator": f"tape {MARKER}",
                "quote": f"“{MARKER} was taken at night”",
                "claims": [{"category": "detained", "low": 3, "high": 4, "group": f"{MARKER} family"}],
            }
        ],
        estimates=[{"category": "detained", "best": 3}],
    )
    with app.app_context():
        incident = db.session.get_one(Incident, incident_id)
        corrected = incident_input(incident) | {"confidential_notes": f"Moved: {MARKER} asked to be called"}
        update_incident(incident, corrected, COMMAND_LINE, reason="notes corrected")
        db.session.commit()
    return incident_id


def _control(add_incident: Callable[..., int]) -> int:
    """A published incident the erasures leave alone, elsewhere and another week."""
    return add_incident(
        "Curfew in Cusco",
        types=["curfew"],
        start_date="2023-03-20",
        admin1="Cusco",
        latitude=-13.52,
        longitude=-71.97,
        citations=[killed(2, source="Cusco press")],
    )


def _erase(runner: FlaskCliRunner, *args: str, email: str = ADMIN, reason: str = "consent withdrawn") -> Any:
    return runner.invoke(args=["erase", *args, "--reason", reason, "--as", email, "--yes"])


def _database_files(app: Flask) -> dict[str, bytes]:
    """The SQLite database's files as they are on disk (the file, its write-ahead log and index)."""
    path = Path(sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database or "")
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return {file.name: file.read_bytes() for file in files if file.exists()}


def _audit_text(app: Flask) -> str:
    with app.app_context():
        return "\n".join(db.session.scalars(sa.select(AuditEntry.content).order_by(AuditEntry.seq)))


def _entry(app: Flask, operation: str) -> dict[str, Any]:
    with app.app_context():
        content = db.session.scalars(
            sa.select(AuditEntry.content).where(AuditEntry.operation == operation)
        ).one()
    found: dict[str, Any] = json.loads(content)
    return found


def _published_totals(app: Flask) -> tuple[int, int]:
    """The map's rollup for all published incidents: how many, and the lowest detained figures added."""
    with app.app_context():
        cell = db.session.scalars(
            sa.select(MapCell).where(MapCell.level == 0, MapCell.status == PublicationStatus.PUBLISHED)
        ).one()
        return cell.incident_count, cell.detained_low


@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
def test_what_any_connection_deletes_is_zeroed_in_the_sqlite_file(app: Flask) -> None:
    """secure_delete is on for every connection the app makes, not only an erasure's: a row deleted (or a
    value overwritten) by a save leaves no bytes in free space once the log is checkpointed."""
    with app.app_context():
        for _ in range(2):  # two connections of the pool, each set up by the app
            with db.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        with db.engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO incident_types (slug, label) VALUES ('gone', :label)"),
                {"label": f"{MARKER} " * 40},
            )
        with db.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM incident_types WHERE slug = 'gone'"))
        db.engine.dispose()  # the last connection closed: the log folded into the file
    for name, content in _database_files(app).items():
        assert MARKER.encode() not in content, name


def test_an_erased_incident_is_gone_from_every_output_the_history_and_the_files(
    app: Flask,
    admin: User,
    add_incident: Callable[..., int],
    client: FlaskClient,
    runner: FlaskCliRunner,
    tmp_path: Path,
) -> None:
    _control(add_incident)
    public_before = export_json(client)
    totals_before = _published_totals(app)
    erased = _witnessed(app, add_incident)
    erased_public_id = public_id(app, erased)
    assert MARKER in client.get(f"/incidents/{erased_public_id}").get_data(as_text=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        assert any(MARKER.encode() in content for content in _database_files(app).values())

    result = _erase(runner, "incident", erased_public_id, "--with-sources")

    assert result.exit_code == 0, result.output
    assert "Erased incident" in result.output and "Erased source(s)" in result.output
    # Every output answers as if it had never been, the public export to the byte.
    assert client.get(f"/incidents/{erased_public_id}").status_code == 404
    assert client.get(f"/api/v1/incidents/{erased_public_id}").status_code == 404
    assert export_json(client)["incidents"] == public_before["incidents"]
    assert _published_totals(app) == totals_before
    staff = app.test_client()
    login(staff, ADMIN)
    assert staff.get(f"/incidents/{erased_public_id}").status_code == 404
    assert staff.get(f"/incidents/{erased}").status_code == 404
    token = create_api_token(app, admin)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/incidents/{erased}", headers=headers).status_code == 404
    assert MARKER not in staff.get("/export.csv?status=published").get_data(as_text=True)
    staff_export = export_file(runner, tmp_path / "staff.json", "--include-drafts")
    assert MARKER not in json.dumps(staff_export, ensure_ascii=False)
    assert counts(app)["sources"] == 1  # the control's: the testimony only the erased incident cited went
    # The trail keeps that it happened, who decided and why, and nothing of what was erased; it verifies.
    assert MARKER not in _audit_text(app)
    entry = _entry(app, "incident.erase")
    assert (entry["target_id"], entry["user_email"], entry["reason"]) == (erased, ADMIN, "consent withdrawn")
    assert entry["details"]["public_id"] == erased_public_id
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # And not one byte of it is left in SQLite's files: not in freed space, an index, or the log.
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        for name, content in _database_files(app).items():
            assert MARKER.encode() not in content, name


def test_the_trail_keeps_who_when_and_what_with_tombstones_that_a_copy_can_check(
    app: Flask, admin: User, add_incident: Callable[..., int], runner: FlaskCliRunner, tmp_path: Path
) -> None:
    erased = _witnessed(app, add_incident)
    with app.app_context():
        before = {
            row.seq: (row.operation, row.entry_hash)
            for row in db.session.execute(
                sa.select(AuditEntry).where(
                    AuditEntry.target_type == "incident", AuditEntry.target_id == erased
                )
            ).scalars()
        }
    assert [operation for operation, _ in before.values()] == [
        "incident.create",
        "incident.submit",
        "incident.publish",
        "incident.update",
    ]

    assert _erase(runner, "incident", str(erased)).exit_code == 0

    erasure = _entry(app, "incident.erase")
    assert erasure["details"][audit.ERASED_ENTRIES] == audit.runs(sorted(before))
    with app.app_context():
        after = db.session.execute(sa.select(AuditEntry).where(AuditEntry.seq.in_(before))).scalars().all()
        for row in after:
            content = json.loads(row.content)
            # Who, when, through what and the operation stay; the values are tombstones naming the erasure,
            # the link in the chain is what it was.
            assert (content["operation"], row.entry_hash) == before[row.seq]
            assert audit.is_tombstone(content["changes"])
            assert content["changes"]["erasure_seq"] == erasure["seq"]
    path = tmp_path / "audit.jsonl"
    assert runner.invoke(args=["audit", "export", "-o", str(path)]).exit_code == 0
    checked_audit_copy([json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()])


def test_an_admin_erases_from_the_incident_page_after_saying_why(
    app: Flask, admin: User, make_user: Callable[..., User], add_incident: Callable[..., int]
) -> None:
    erased = _witnessed(app, add_incident)
    ref = public_id(app, erased)
    editor = app.test_client()
    login(editor, make_user("editor@example.org", Role.EDITOR).email)
    assert "Erase…" not in editor.get(f"/incidents/{ref}").get_data(as_text=True)
    assert editor.get(f"/incidents/{ref}/erase").status_code == 403
    staff = app.test_client()
    login(staff, ADMIN)
    assert f"/incidents/{ref}/erase" in staff.get(f"/incidents/{ref}").get_data(as_text=True)
    confirm = staff.get(f"/incidents/{ref}/erase").get_data(as_text=True)
    assert "Backups taken before still hold it" in confirm and f"Testimony of {MARKER}" in confirm
    before, trail = counts(app), _audit_text(app)
    for form, problem in (
        ({"reason": " ", "understood": "yes"}, "Say why this is erased"),
        ({"reason": "consent withdrawn"}, "Tick this box to erase"),
    ):
        refused = staff.post(f"/incidents/{ref}/erase", data=form)
        assert refused.status_code == 422
        assert "Nothing was erased." in refused.get_data(as_text=True)
        assert problem in refused.get_data(as_text=True)
        assert counts(app) == before and _audit_text(app) == trail

    done = staff.post(
        f"/incidents/{ref}/erase",
        data={"reason": "consent withdrawn", "understood": "yes", "with_sources": "yes"},
    )

    assert done.status_code == 302 and done.headers["Location"].endswith("/incidents/")
    assert f"Incident {ref} was erased for good" in staff.get("/incidents/").get_data(as_text=True)
    assert staff.get(f"/incidents/{ref}").status_code == 404
    entry = _entry(app, "incident.erase")
    assert (entry["channel"], entry["user_email"], entry["details"]["sources_erased"]) == ("web", ADMIN, [1])
    assert counts(app)["sources"] == 0 and MARKER not in _audit_text(app)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        for name, content in _database_files(app).items():
            assert MARKER.encode() not in content, name


def test_the_sources_only_it_cites_are_kept_and_named_unless_asked(
    app: Flask, admin: User, add_incident: Callable[..., int], runner: FlaskCliRunner
) -> None:
    erased = _witnessed(app, add_incident)
    with app.app_context():
        [testimony] = db.session.scalars(sa.select(Source.id)).all()

    result = _erase(runner, "incident", str(erased))

    assert result.exit_code == 0, result.output
    assert f"Source(s) {testimony} are cited by no incident now: kept." in result.output
    with app.app_context():
        assert db.session.get(Incident, erased) is None
        assert db.session.get_one(Source, testimony).title == f"Testimony of {MARKER}"


def test_an_erased_source_leaves_every_incident_that_cited_it_with_its_other_figures(
    app: Flask, admin: User, add_incident: Callable[..., int], runner: FlaskCliRunner
) -> None:
    with app.app_context():
        witness = create_source({"title": f"Statement {MARKER}", "kind": "witness_testimony"}, COMMAND_LINE)
        db.session.commit()
        witness_id = witness.id
    citing = [
        add_incident(
            f"Raid {number}",
            start_date=f"2023-0{number}-01",
            citations=[
                killed(5, source=f"Press {number}"),
                {
                    "source_id": witness_id,
                    "quote": f"{MARKER} saw it",
                    "claims": [{"category": "killed", "low": 9}],
                },
            ],
        )
        for number in (1, 2)
    ]
    with app.app_context():
        update_source(
            db.session.get_one(Source, witness_id),
            {"title": f"Statement of {MARKER}", "kind": "witness_testimony"},
            COMMAND_LINE,
            reason="named",
        )
        db.session.commit()
        assert db.session.get_one(Incident, citing[0]).killed_high == 9
        versions = [db.session.get_one(Incident, i).version for i in citing]

    result = _erase(runner, "source", str(witness_id))

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.get(Source, witness_id) is None
        for incident_id, version in zip(citing, versions, strict=True):
            incident = db.session.get_one(Incident, incident_id)
            assert (incident.killed_low, incident.killed_high, incident.source_count) == (5, 5, 1)
            assert incident.version == version + 1  # a form opened before cannot save the citation back
    assert MARKER not in _audit_text(app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    # Each incident's history still shows its other changes, and says where a citation was erased.
    staff = app.test_client()
    login(staff, ADMIN)
    history = staff.get(f"/incidents/{citing[0]}/history", follow_redirects=True)
    assert history.status_code == 200
    text = history.get_data(as_text=True)
    assert "Press 1" in text and "erased" in text and MARKER not in text
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        for name, content in _database_files(app).items():
            assert MARKER.encode() not in content, name


def test_titles_quoted_by_the_app_elsewhere_go_too(
    app: Flask, admin: User, add_incident: Callable[..., int], runner: FlaskCliRunner
) -> None:
    """A merge's note on the incident it retracted, and a refused publication, quote the other's title."""
    near = {"types": ["killing"], "latitude": -15.5, "longitude": -70.13, "start_date": "2023-01-09"}
    kept = add_incident(f"Killing at the bridge {MARKER}", **near)
    other = add_incident("Killing at the bridge, second report", status="in_review", **near)
    reviewer = app.test_client()
    login(reviewer, ADMIN)
    with app.app_context():
        version = db.session.get_one(Incident, other).version
    refused = reviewer.post(
        f"/incidents/{other}/transition", data={"to": "published", "reason": "ok", "version": str(version)}
    )
    assert refused.status_code == 302
    assert MARKER in _audit_text(app)  # "… may be a duplicate of incident … (“Killing at the bridge …”)"
    with app.app_context():
        keep = db.session.get_one(Incident, kept)
        [flag] = open_flags(kept)
        merge(flag, keep, COMMAND_LINE)
        db.session.commit()
        assert MARKER in db.session.get_one(Incident, other).confidential_notes

    assert _erase(runner, "incident", str(kept)).exit_code == 0

    with app.app_context():
        notes = db.session.get_one(Incident, other).confidential_notes
    assert MARKER not in notes and "(since erased)" in notes
    assert MARKER not in _audit_text(app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_what_people_wrote_about_an_erased_title_elsewhere_is_left_alone(
    app: Flask, admin: User, add_incident: Callable[..., int], runner: FlaskCliRunner
) -> None:
    """Only where the app itself quotes a title is it erased: another incident's text is its own record."""
    erased = add_incident("Raid on the market", start_date="2023-04-01")
    narrative = "Not the “Raid on the market” of April: another day."
    other = add_incident("Raid on the station", start_date="2023-06-01", narrative=narrative)

    assert _erase(runner, "incident", str(erased)).exit_code == 0

    with app.app_context():
        assert db.session.get_one(Incident, other).narrative == narrative
    [created] = [
        entry
        for entry in map(json.loads, _audit_text(app).splitlines())
        if (entry["operation"], entry["target_id"]) == ("incident.create", other)
    ]
    assert created["changes"]["narrative"] == [None, narrative]


@pytest.mark.parametrize("role", [Role.EDITOR, Role.REVIEWER])
def test_only_an_admin_erases_and_a_refusal_changes_nothing(
    app: Flask,
    make_user: Callable[..., User],
    add_incident: Callable[..., int],
    runner: FlaskCliRunner,
    role: Role,
) -> None:
    user = make_user("someone@example.org", role)
    erased = _witnessed(app, add_incident)
    before, trail = counts(app), _audit_text(app)

    result = _erase(runner, "incident", str(erased), email=user.email)

    assert result.exit_code == 1
    assert f"someone@example.org is {role.value}, not admin" in result.output
    assert counts(app) == before and _audit_text(app) == trail


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("   ", "reason: Say why this is erased"),
        (f"Detention of the witness {MARKER} was recorded in error", "Do not repeat the title"),
    ],
    ids=["blank", "repeats the title"],
)
def test_a_missing_reason_or_one_that_keeps_the_content_is_refused(
    app: Flask,
    admin: User,
    add_incident: Callable[..., int],
    runner: FlaskCliRunner,
    reason: str,
    message: str,
) -> None:
    erased = _witnessed(app, add_incident)
    before, trail = counts(app), _audit_text(app)

    result = _erase(runner, "incident", str(erased), reason=reason)

    assert result.exit_code == 1 and "Nothing was erased." in result.output and message in result.output
    assert counts(app) == before and _audit_text(app) == trail
    missing = runner.invoke(args=["erase", "incident", str(erased), "--as", ADMIN, "--yes"])
    assert missing.exit_code == 2 and "Missing option '--reason'" in missing.output


def test_unknown_targets_and_accounts_are_named(admin: User, runner: FlaskCliRunner) -> None:
    assert "No incident 'zzzz9999zzzz'" in _erase(runner, "incident", "zzzz9999zzzz").output
    assert "No incident '12345'" in _erase(runner, "incident", "12345").output
    assert "No source 77." in _erase(runner, "source", "77").output
    assert (
        "There is no active account 'nobody@example.org'"
        in _erase(runner, "source", "77", email="nobody@example.org").output
    )


def test_erasing_asks_first(
    app: Flask, admin: User, add_incident: Callable[..., int], runner: FlaskCliRunner
) -> None:
    erased = _witnessed(app, add_incident)
    before = counts(app)
    arguments = ["erase", "incident", str(erased), "--reason", "consent withdrawn", "--as", ADMIN]
    declined = runner.invoke(args=arguments, input="n\n")
    assert declined.exit_code == 1 and "Erase it? This cannot be undone" in declined.output
    assert counts(app) == before
    assert runner.invoke(args=arguments, input="y\n").exit_code == 0
    assert counts(app)["incidents"] == before["incidents"] - 1


def _tamper(app: Flask, operation: str, incident_id: int, change: Callable[[Any, int], Any]) -> int:
    """Change the values of the incident's entry of this operation, in the database, as an intruder would;
    its seq."""
    with app.app_context():
        row = db.session.scalars(
            sa.select(AuditEntry).where(
                AuditEntry.operation == operation, AuditEntry.target_id == incident_id
            )
        ).one()
        content = json.loads(row.content)
        content["changes"] = change(content["changes"], row.seq)
        row.content = audit.canonical(content)
        db.session.commit()
        return row.seq


@pytest.mark.tampers_with_audit_trail
def test_a_tombstone_without_an_erasure_breaks_the_chain(
    app: Flask, add_incident: Callable[..., int], runner: FlaskCliRunner
) -> None:
    """Values replaced by a well-formed tombstone (the right digest: the links hold) that no erasure names."""
    incident_id = _witnessed(app, add_incident)
    seq = _tamper(app, "incident.update", incident_id, lambda changes, seq: tombstone(changes, seq + 1))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert (
        f"broken at entry {seq}: entry {seq} holds erased values that entry {seq + 1} does not say"
        in result.output
    )


@pytest.mark.tampers_with_audit_trail
@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t | {"digest": "0" * 64},
        lambda t: t | {"erasure_seq": 1},
    ],
    ids=["digest changed", "names another entry"],
)
def test_a_tombstone_changed_after_the_erasure_breaks_the_chain(
    app: Flask,
    admin: User,
    add_incident: Callable[..., int],
    runner: FlaskCliRunner,
    tamper: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    erased = _witnessed(app, add_incident)
    assert _erase(runner, "incident", str(erased)).exit_code == 0
    seq = _tamper(app, "incident.create", erased, lambda changes, _: tamper(changes))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"broken at entry {seq}:" in result.output

"""The audit trail: every change written, field by field, in a hash chain that shows any tampering.

(Every test of the suite also checks, when it ends, that the chain its operations built holds: see
tests/conftest.py.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents import audit
from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.models import AuditEntry, Incident, User
from incidents.services.incidents import create_incident
from incidents.vocabulary import Role
from tests.factories import PASSWORD, create_api_token, juliaca_form, load_demo
from tests.helpers import checked_audit_copy, id_of_public, login, page


def _entries(app: Flask) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEntry.content).order_by(AuditEntry.seq)).all()
    return [json.loads(row) for row in rows]


def _save_and_edit(app: Flask, editor_client: FlaskClient) -> int:
    """An editor saves the Juliaca incident, then corrects its figure and its title."""
    response = editor_client.post("/incidents/new", data=juliaca_form())
    assert response.status_code == 302
    incident_id = id_of_public(app, response.headers["Location"].rsplit("/", 1)[1])
    edited = juliaca_form(version="1", title="Police fire near Juliaca airport")
    edited["citations-0-claims-0-low"] = "16"
    assert editor_client.post(page(app, incident_id, "/edit"), data=edited).status_code == 302
    return incident_id


def test_a_save_is_written_with_who_when_the_channel_and_each_field(
    app: Flask, editor_client: FlaskClient
) -> None:
    incident_id = _save_and_edit(app, editor_client)
    entries = [e for e in _entries(app) if e["target_type"] == "incident"]
    created, edited = entries
    assert (created["operation"], created["channel"], created["user_email"]) == (
        "incident.create",
        "web",
        "editor@example.org",
    )
    assert created["target_id"] == incident_id and created["token_id"] is None
    assert created["changes"]["title"] == [None, "Police fire on protesters near Juliaca airport"]
    assert edited["operation"] == "incident.update"
    assert edited["changes"]["title"] == [
        "Police fire on protesters near Juliaca airport",
        "Police fire near Juliaca airport",
    ]
    # The figures, claim by claim, before and after, with the source named.
    old, new = edited["changes"]["citations"]
    assert old[0]["claims"][0]["low"] == 17 and new[0]["claims"][0]["low"] == 16
    assert new[0]["source"] == "Peru: 17 dead in Juliaca clashes"
    assert set(edited["changes"]) == {"title", "citations"}  # nothing else changed
    assert edited["at"] >= created["at"]


def test_api_changes_name_the_token(app: Flask, client: FlaskClient, token: str) -> None:
    body = {
        "title": "Puno: detentions",
        "types": ["arrest_detention"],
        "start_date": "2023-01-20",
        "date_precision": "day",
        "country": "PE",
        "location_precision": "country",
        "verification_grade": "weak",
    }
    created = client.post("/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201
    [entry] = [e for e in _entries(app) if e["operation"] == "incident.create"]
    with app.app_context():
        token_id = db.session.scalar(sa.text("SELECT id FROM api_tokens"))
    assert (entry["channel"], entry["token_id"], entry["user_email"]) == ("api", token_id, "api@example.org")


def test_no_password_token_or_session_reaches_the_trail(
    app: Flask, admin_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("ana@example.org")
    token = create_api_token(app, user)
    client = app.test_client()
    login(client, "ana@example.org")
    changed = client.post(
        "/account/password",
        data={
            "old_password": PASSWORD,
            "password": "a new long passphrase",
            "confirm": "a new long passphrase",
        },
    )
    assert changed.status_code == 302, changed.data
    with app.app_context():
        content = "\n".join(db.session.scalars(sa.select(AuditEntry.content)))
        account = db.session.get_one(User, user.id)
        secrets = [PASSWORD, "a new long passphrase", token, account.password_hash, account.session_nonce]
    assert "account.password" in content and "token.create" in content
    for secret in secrets:
        assert secret not in content


# Each tampers with the entry that recorded the incident's creation (:seq), or with the last entry.
@pytest.mark.tampers_with_audit_trail
@pytest.mark.parametrize(
    ("tamper", "broken_at", "words"),
    [
        (
            "UPDATE audit_entries SET content = replace(content, '17', '71') WHERE seq = :seq",
            "seq",
            "changed",
        ),
        ("UPDATE audit_entries SET user_id = NULL WHERE seq = :seq", "seq", "user_id column"),
        ("DELETE FROM audit_entries WHERE seq = :seq", "seq", "missing"),
        ("DELETE FROM audit_entries WHERE seq = (SELECT max(seq) FROM audit_entries)", "count", "head"),
        (
            "UPDATE audit_entries SET previous_hash = (SELECT entry_hash FROM audit_entries WHERE seq = 1)"
            " WHERE seq = :seq",
            "seq",
            "does not link",
        ),
    ],
    ids=["content changed", "column changed", "entry removed", "last entry removed", "reordered"],
)
def test_verify_finds_the_entry_tampered_with(
    app: Flask,
    editor_client: FlaskClient,
    runner: FlaskCliRunner,
    tamper: str,
    broken_at: str,
    words: str,
) -> None:
    _save_and_edit(app, editor_client)
    held = runner.invoke(args=["audit", "verify"])
    assert held.exit_code == 0 and "The audit trail holds:" in held.output
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
        seq = db.session.scalar(sa.select(AuditEntry.seq).where(AuditEntry.operation == "incident.create"))
        assert count is not None and seq is not None and 1 < seq < count
        db.session.execute(sa.text(tamper), {"seq": seq} if ":seq" in tamper else {})
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    expected = seq if broken_at == "seq" else count
    assert f"The audit trail is broken at entry {expected}:" in result.output
    assert words in result.output


@pytest.mark.tampers_with_audit_trail
def test_entries_swapped_break_the_chain_where_the_first_one_moved(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner
) -> None:
    _save_and_edit(app, editor_client)
    with app.app_context():
        seq = db.session.scalar(sa.select(AuditEntry.seq).where(AuditEntry.operation == "incident.create"))
        assert seq is not None
        # The incident's creation and the next entry change places (through a free seq: the key is unique).
        for old, new in ((seq, -1), (seq + 1, seq), (-1, seq + 1)):
            db.session.execute(sa.update(AuditEntry).where(AuditEntry.seq == old).values(seq=new))
        db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"broken at entry {seq}:" in result.output


def test_export_writes_the_chain_and_its_head_for_a_copy_kept_elsewhere(
    app: Flask, editor_client: FlaskClient, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    _save_and_edit(app, editor_client)
    path = tmp_path / "audit.jsonl"
    assert runner.invoke(args=["audit", "export", "-o", str(path)]).exit_code == 0
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    # Anyone can check the copy with the standard library: each hash covers the previous one and the
    # content's digest (tests.helpers, as the README describes it).
    head_hash = checked_audit_copy(lines)
    assert len(lines) > 3 and lines[1]["content"]["seq"] == 2
    verified = runner.invoke(args=["audit", "verify"])
    assert head_hash in verified.output


def test_the_chain_does_not_fork_when_saves_commit_at_once(app: Flask) -> None:
    """Writers in threads of their own, each on its own connection, saving at the same time."""
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def save(worker: int) -> None:
        try:
            start.wait()
            for number in range(6):
                with app.app_context():
                    body = {
                        "title": f"Worker {worker}, incident {number}",
                        "types": ["curfew"],
                        "start_date": f"2023-0{worker + 1}-1{number}",
                        "date_precision": "day",
                        "country": "PE",
                        "location_precision": "country",
                        "verification_grade": "weak",
                    }
                    create_incident(body, COMMAND_LINE)
                    db.session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=save, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with app.app_context():
        found = audit.verify(db.session.connection())
        seqs = db.session.scalars(sa.select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        incidents = db.session.scalar(sa.select(sa.func.count()).select_from(Incident))
    assert found.ok, found.problem
    assert incidents == 18
    assert seqs == list(range(1, len(seqs) + 1))
    assert len([s for s in seqs]) == found.count


def test_a_refused_attempt_is_recorded(
    app: Flask, client: FlaskClient, token: str, make_user: Callable[..., User]
) -> None:
    body = {
        "title": "Puno: detentions",
        "types": ["arrest_detention"],
        "start_date": "2023-01-20",
        "date_precision": "day",
        "country": "PE",
        "location_precision": "country",
        "verification_grade": "weak",
        "status": "published",
    }
    refused = client.post("/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    [entry] = [e for e in _entries(app) if e["operation"].endswith(".refused")]
    assert entry["operation"] == "incident.create.refused" and entry["user_email"] == "api@example.org"
    assert "publishing is a reviewer's step" in entry["reason"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_the_demo_loaded_and_published_is_in_the_trail(app: Flask, runner: FlaskCliRunner) -> None:
    load_demo(runner, "--publish")
    operations = [e["operation"] for e in _entries(app)]
    assert operations.count("incident.create") == 11
    assert operations.count("incident.submit") == 11 and operations.count("incident.publish") == 11
    published = [e for e in _entries(app) if e["operation"] == "incident.publish"]
    assert {e["channel"] for e in published} == {"cli"} and {e["reason"] for e in published} == {
        "the demo data set"
    }
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_a_reviewer_role_exists_for_accounts(make_user: Callable[..., User]) -> None:
    assert make_user("rev@example.org", Role.REVIEWER).role == Role.REVIEWER

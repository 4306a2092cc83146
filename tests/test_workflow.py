"""Review before publication: draft → in review → published → retracted, the same rules on every channel."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.extensions import db
from incidents.models import AuditEntry, Incident, User
from incidents.vocabulary import PublicationStatus, Role
from tests.factories import add_incident, juliaca_form
from tests.helpers import api_url, id_of_public, login, page, public_id


@pytest.fixture
def reviewer_client(app: Flask, make_user: Callable[..., User]) -> FlaskClient:
    client = app.test_client()
    make_user("reviewer@example.org", Role.REVIEWER)
    assert login(client, "reviewer@example.org").status_code == 302
    return client


def _new(client: FlaskClient, **fields: str) -> int:
    response = client.post("/incidents/new", data=juliaca_form(**fields))
    assert response.status_code == 302, response.get_data(as_text=True)
    return id_of_public(client.application, response.headers["Location"].rsplit("/", 1)[1])


def _move(client: FlaskClient, incident_id: int, to: str, reason: str = "", **extra: str) -> str:
    with client.application.app_context():
        version = db.session.get_one(Incident, incident_id).version
    data = {"to": to, "version": str(version), "reason": reason, **extra}
    response = client.post(
        page(client.application, incident_id, "/transition"), data=data, follow_redirects=True
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _status(app: Flask, incident_id: int) -> PublicationStatus:
    with app.app_context():
        return db.session.get_one(Incident, incident_id).status


def test_the_review_queue_says_who_made_an_incident_in_review_and_when(
    editor_client: FlaskClient, reviewer_client: FlaskClient
) -> None:
    _new(editor_client, status="in_review", title="Made straight into review")
    queue = reviewer_client.get("/review").get_data(as_text=True)
    row = queue.split("Made straight into review", 1)[1].split("</tr>", 1)[0]
    assert "by editor@example.org" in row and "(made in review)" in row and "imported" not in row


def test_an_editor_submits_a_reviewer_publishes_and_the_history_says_who_when_why(
    app: Flask, editor_client: FlaskClient, reviewer_client: FlaskClient
) -> None:
    incident_id = _new(editor_client)
    detail = editor_client.get(page(app, incident_id)).get_data(as_text=True)
    # An editor's page offers no publishing.
    assert "Submit for review" in detail and ">Publish<" not in detail
    # An editor who tries anyway (an old page, a forged request) is refused, and the attempt recorded.
    refused = _move(editor_client, incident_id, "published", "I checked it")
    assert "Nothing was changed: A draft incident cannot become published" in refused
    assert "submitted for review" not in refused
    assert _status(app, incident_id) == PublicationStatus.DRAFT
    _move(editor_client, incident_id, "in_review")
    refused = _move(editor_client, incident_id, "published", "I checked it")
    assert "Publish is a reviewer&#39;s step" in refused
    assert _status(app, incident_id) == PublicationStatus.IN_REVIEW
    # The review queue lists it for reviewers.
    queue = reviewer_client.get("/review").get_data(as_text=True)
    assert "Police fire on protesters near Juliaca airport" in queue and "by editor@example.org" in queue
    # Publishing asks why.
    missing = _move(reviewer_client, incident_id, "published")
    assert "Nothing was changed: reason: Say why (publish): the history keeps it." in missing
    published = _move(reviewer_client, incident_id, "published", "Two press sources and a witness agree.")
    assert "The incident is now published." in published
    assert app.test_client().get(page(app, incident_id)).status_code == 200  # public now
    # Its number leads staff to its page; to the public it names nothing (it had no numbered URL before).
    numbered = reviewer_client.get(f"/incidents/{incident_id}")
    assert numbered.status_code == 301 and numbered.headers["Location"].endswith(page(app, incident_id))
    assert app.test_client().get(f"/incidents/{incident_id}").status_code == 404
    history = reviewer_client.get(page(app, incident_id, "/history")).get_data(as_text=True)
    assert "Publish" in history and "reviewer@example.org" in history
    assert "Two press sources and a witness agree." in history
    assert "Submit" in history and "editor@example.org" in history
    with app.app_context():
        refusals = db.session.scalars(
            sa.select(AuditEntry.operation).where(AuditEntry.operation.like("%.refused"))
        ).all()
    assert refusals == ["incident.published.refused", "incident.published.refused"]


def test_a_reviewer_does_not_publish_their_own_change_unless_an_admin_overrides(
    app: Flask,
    reviewer_client: FlaskClient,
    admin_client: FlaskClient,
    make_user: Callable[..., User],
) -> None:
    incident_id = _new(reviewer_client, status="in_review")
    refused = _move(reviewer_client, incident_id, "published", "Looks right")
    assert "You made the last change to this incident: another reviewer publishes it" in refused
    assert _status(app, incident_id) == PublicationStatus.IN_REVIEW
    own = _new(admin_client, status="in_review", start_date="2023-03-20")  # another event: no flag
    assert "As an admin you may override this" in _move(admin_client, own, "published", "Urgent")
    moved = _move(admin_client, own, "published", "Urgent: the IACHR asked today", override="yes")
    assert "The incident is now published." in moved
    history = admin_client.get(page(app, own, "/history")).get_data(as_text=True)
    assert "Override:" in history and "an admin published their own change" in history


def test_a_flagged_duplicate_is_not_published_until_the_flag_is_resolved(
    app: Flask, editor_client: FlaskClient, reviewer_client: FlaskClient
) -> None:
    """The San Marcos raid entered twice would count its detainees twice on the public map."""
    first = _new(editor_client, status="in_review")
    _move(reviewer_client, first, "published", "Checked against the IACHR report.")
    second = _new(editor_client, title="Raid on San Marcos University", status="in_review")
    refused = _move(reviewer_client, second, "published", "Checked.")
    assert f"This incident may be a duplicate of incident {public_id(app, first)}" in refused
    assert _status(app, second) == PublicationStatus.IN_REVIEW
    public_map = app.test_client().get("/map/data.geojson?bbox=-180,-85,180,85&zoom=2").get_data(as_text=True)
    assert public_map.count('"incident_count"') <= 1  # one incident on the map, not the raid twice
    # Confirmed distinct, it may be published.
    with app.app_context():
        flag_id = db.session.scalar(sa.text("SELECT id FROM duplicate_flags"))
    reviewer_client.post(page(app, second, f"/duplicates/{flag_id}/distinct"))
    assert "now published" in _move(reviewer_client, second, "published", "Two raids, a week apart.")


def test_a_published_incident_is_corrected_by_a_reviewer_with_a_reason_shown_to_the_public(
    app: Flask, editor_client: FlaskClient, reviewer_client: FlaskClient
) -> None:
    incident_id = _new(editor_client, status="in_review")
    _move(reviewer_client, incident_id, "published", "Checked.")
    with app.app_context():
        version = db.session.get_one(Incident, incident_id).version
    correction = juliaca_form(status="published", version=str(version))
    correction["citations-0-claims-0-low"] = "16"
    # An editor may not change a published incident; a reviewer must say why.
    refused = editor_client.post(page(app, incident_id, "/edit"), data=correction)
    assert refused.status_code == 403
    assert "A published incident is corrected by a reviewer or an admin" in refused.get_data(as_text=True)
    unexplained = reviewer_client.post(page(app, incident_id, "/edit"), data=correction)
    assert unexplained.status_code == 422
    assert "Say why this published incident changes" in unexplained.get_data(as_text=True)
    correction["reason"] = "EFE corrected its count to 16 on 11 January."
    saved = reviewer_client.post(page(app, incident_id, "/edit"), data=correction)
    assert saved.status_code == 302
    public = app.test_client().get(page(app, incident_id)).get_data(as_text=True)
    assert "Corrections" in public and "EFE corrected its count to 16 on 11 January." in public
    history = reviewer_client.get(page(app, incident_id, "/history")).get_data(as_text=True)
    # The old figures stay in the history.
    assert re.search(r"Peru: 17 dead in Juliaca clashes \(para. 1\): killed 17", history)
    assert re.search(r"Peru: 17 dead in Juliaca clashes \(para. 1\): killed 16", history)


def test_send_back_and_retract_ask_why_and_move_the_incident(
    app: Flask, editor_client: FlaskClient, reviewer_client: FlaskClient
) -> None:
    incident_id = _new(editor_client, status="in_review")
    assert "reason: Say why" in _move(reviewer_client, incident_id, "draft")
    _move(reviewer_client, incident_id, "draft", "The second source is a copy of the first.")
    assert _status(app, incident_id) == PublicationStatus.DRAFT
    _move(editor_client, incident_id, "in_review")
    _move(reviewer_client, incident_id, "published", "Now with the IACHR's figure.")
    retracted = _move(reviewer_client, incident_id, "retracted", "The event was misdated: see incident 2.")
    assert "now retracted" in retracted
    assert app.test_client().get(page(app, incident_id)).status_code == 404
    # No way back from a retraction, nor straight from a draft to published.
    assert "cannot become" in _move(reviewer_client, incident_id, "published", "Again")


def test_a_stale_version_changes_nothing(
    app: Flask, editor_client: FlaskClient, reviewer_client: FlaskClient
) -> None:
    incident_id = _new(editor_client, status="in_review")
    data = {"to": "published", "version": "99", "reason": "Checked."}
    response = reviewer_client.post(page(app, incident_id, "/transition"), data=data, follow_redirects=True)
    assert "someone saved this incident since you opened it" in response.get_data(as_text=True)
    assert _status(app, incident_id) == PublicationStatus.IN_REVIEW


def test_the_api_moves_incidents_with_the_same_rules(
    app: Flask, client: FlaskClient, token: str, make_user: Callable[..., User]
) -> None:
    from tests.factories import create_api_token

    incident_id = add_incident(app, "Curfew in Puno", status="in_review")
    url = api_url(app, incident_id, "/transitions")
    editor = {"Authorization": f"Bearer {token}"}
    reviewer_token = create_api_token(app, make_user("reviewer@example.org", Role.REVIEWER))
    reviewer = {"Authorization": f"Bearer {reviewer_token}"}
    move = {"to": "published", "version": 1, "reason": "Checked."}
    refused = client.post(url, json=move, headers=editor)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert client.post(url, json={"to": "published", "version": 1}, headers=reviewer).status_code == 422
    assert (
        client.post(url, json={"to": "retracted", "version": 1, "reason": "x"}, headers=reviewer).status_code
        == 409
    )
    assert client.post(url, json=move | {"version": 7}, headers=reviewer).status_code == 409
    done = client.post(url, json=move, headers=reviewer)
    assert done.status_code == 200 and done.json["status"] == "published"
    assert _status(app, incident_id) == PublicationStatus.PUBLISHED

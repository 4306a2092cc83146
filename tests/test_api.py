"""The REST API: audiences, tokens, pagination, writes with optimistic locking, problem details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.extensions import db
from incidents.models import Incident, User
from incidents.vocabulary import Role
from tests.factories import (
    DRAFT_TITLE,
    MARKER,
    add_hostile_and_draft,
    api_incident,
    create_api_token,
    load_demo,
)
from tests.helpers import api_url, id_of_public, public_id

PROBLEM = "application/problem+json"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.data
    assert response.mimetype == PROBLEM
    problem: dict[str, Any] = response.json
    assert problem["status"] == status and problem["title"] and problem["type"]
    return problem


def test_public_reads_see_published_incidents_only(app: Flask, client: FlaskClient, token: str) -> None:
    hostile_id, draft_id = add_hostile_and_draft(app)
    listing = client.get("/api/v1/incidents")
    assert listing.status_code == 200
    assert [i["id"] for i in listing.json["incidents"]] == [public_id(app, hostile_id)]
    assert MARKER not in listing.get_data(as_text=True)
    assert "status" not in listing.json["incidents"][0]
    assert_problem(client.get(api_url(app, draft_id)), 404)
    assert_problem(client.get(f"/api/v1/incidents/{draft_id}"), 404)
    hostile = client.get(api_url(app, hostile_id))
    assert hostile.status_code == 200 and MARKER not in hostile.get_data(as_text=True)
    # Without a token a number is not found, even a published incident's, unless it had a numbered URL
    # before public ids: that one redirects to its public id.
    assert_problem(client.get(f"/api/v1/incidents/{hostile_id}"), 404)
    with app.app_context():
        db.session.execute(sa.update(Incident).values(numbered_url=True))
        db.session.commit()
    moved = client.get(f"/api/v1/incidents/{hostile_id}")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(api_url(app, hostile_id))
    assert_problem(client.get(f"/api/v1/incidents/{draft_id}"), 404)  # numbered, but not published
    sources = client.get("/api/v1/sources").get_data(as_text=True)
    assert MARKER not in sources  # a source cited only by a draft is not public either

    staff = client.get(api_url(app, draft_id), headers=bearer(token))
    assert staff.status_code == 200 and staff.json["title"] == DRAFT_TITLE
    assert staff.json["id"] == public_id(app, draft_id)
    # A token holder may name any incident by its number too.
    assert client.get(f"/api/v1/incidents/{draft_id}", headers=bearer(token)).json == staff.json
    assert MARKER in staff.json["confidential_notes"] and staff.json["status"] == "draft"
    assert staff.headers["Cache-Control"] == "no-store"
    assert MARKER in client.get("/api/v1/sources", headers=bearer(token)).get_data(as_text=True)


def test_cursor_pagination_is_stable_and_complete(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        page = client.get(f"/api/v1/incidents?limit=4&cursor={cursor}")
        assert page.status_code == 200
        seen += [i["id"] for i in page.json["incidents"]]
        cursor = page.json["next_cursor"]
        if cursor is None:
            break
        # The cursor is the public id of the page's last incident, not a number.
        assert cursor == seen[-1]
    # Every incident once, in the order they were entered.
    database_ids = [id_of_public(app, public) for public in seen]
    assert len(seen) == 11 and database_ids == sorted(set(database_ids))
    assert [i["id"] for i in client.get("/api/v1/incidents?limit=500").json["incidents"]] == seen
    filtered = client.get("/api/v1/incidents?admin1=Puno").json["incidents"]
    assert filtered and all(i["location"]["admin1"] == "Puno" for i in filtered)
    unknown = "z" * 12  # shaped as a public id, which no incident has
    assert unknown not in seen
    refused = assert_problem(client.get(f"/api/v1/incidents?cursor={unknown}"), 400)
    assert refused["errors"] == {"cursor": ["Not a cursor this API gave out."]}
    for query in (
        "cursor=bogus",
        "cursor=YWZ0ZXI6LTE",
        "cursor=4",
        "limit=0",
        "limit=501",
        "limit=99999999999999999999",
    ):
        assert_problem(client.get(f"/api/v1/incidents?{query}"), 400)
    assert_problem(client.get("/api/v1/incidents?date_from=2023-02-30"), 400)
    assert_problem(client.get("/api/v1/incidents?type=%00"), 400)


def test_writes_need_a_token_and_never_a_session_cookie(
    app: Flask, editor_client: FlaskClient, client: FlaskClient
) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = editor_client.post("/api/v1/incidents", json=api_incident())
    problem = assert_problem(response, 401)
    assert "token" in problem["detail"] and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.post("/api/v1/sources", json={"title": "x", "kind": "press"}), 401)
    assert_problem(client.post("/api/v1/incidents", json=api_incident(), headers=bearer("inc_nope")), 401)
    assert_problem(client.get("/api/v1/incidents", headers={"Authorization": "Basic abc"}), 401)
    assert_problem(client.delete("/api/v1/incidents/1"), 401)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 0


def test_revoked_tokens_stop_working(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, token: str
) -> None:
    assert client.get("/api/v1/sources", headers=bearer(token)).status_code == 200
    result = runner.invoke(args=["revoke-token", token[:12]])
    assert result.exit_code == 0, result.output
    assert_problem(client.get("/api/v1/sources", headers=bearer(token)), 401)


def test_create_replace_and_retract(
    app: Flask, client: FlaskClient, token: str, make_user: Callable[..., User]
) -> None:
    created = client.post("/api/v1/incidents", json=api_incident(), headers=bearer(token))
    assert created.status_code == 201, created.data
    record = created.json
    assert isinstance(record["id"], str) and id_of_public(app, record["id"])
    assert created.headers["Location"].endswith(f"/api/v1/incidents/{record['id']}")
    assert record["created_by"] == "api@example.org" and record["version"] == 1
    assert record["status"] == "in_review"
    assert record["casualties"] == [
        {"category": "detained", "low": 12, "high": 15, "best": 13, "source_count": 1}
    ]
    url = f"/api/v1/incidents/{record['id']}"
    assert_problem(client.get(url), 404)  # in review: not public yet

    # The editor may not publish; a reviewer does, with a reason.
    move = {"to": "published", "version": 1, "reason": "Two sources agree."}
    refused = client.post(f"{url}/transitions", json=move, headers=bearer(token))
    assert "a reviewer's step" in assert_problem(refused, 403)["detail"]
    reviewer = create_api_token(app, make_user("reviewer@example.org", Role.REVIEWER))
    published = client.post(f"{url}/transitions", json=move, headers=bearer(reviewer))
    assert published.status_code == 200, published.data
    assert published.json["status"] == "published" and published.json["version"] == 2
    assert client.get(url).json["title"] == record["title"]  # published: public

    body = api_incident(title="Puno: 15 protesters detained at the bridge", version=2, status="published")
    body["citations"][0] = {"source_id": record["citations"][0]["source"]["id"], "claims": []}
    body["estimates"] = []
    # A published incident is corrected by a reviewer, with a reason.
    assert_problem(client.put(url, json=body, headers=bearer(token)), 403)
    assert "reason" in assert_problem(client.put(url, json=body, headers=bearer(reviewer)), 422)["errors"]
    body["reason"] = "The bulletin's second edition names 15."
    replaced = client.put(url, json=body, headers=bearer(reviewer))
    assert replaced.status_code == 200, replaced.data
    assert replaced.json["version"] == 3 and replaced.json["casualties"] == []
    stale = client.put(url, json=body, headers=bearer(reviewer))
    assert "version 3" in assert_problem(stale, 409)["detail"]
    body.pop("version")
    assert "version" in assert_problem(client.put(url, json=body, headers=bearer(reviewer)), 422)["errors"]

    retraction = {"reason": "A duplicate of the bulletin of the 21st.", "version": 3}
    assert_problem(client.delete(url, json=retraction, headers=bearer(token)), 403)
    assert client.delete(url, json=retraction, headers=bearer(reviewer)).status_code == 204
    assert_problem(client.get(url), 404)
    assert client.get(url, headers=bearer(token)).json["status"] == "retracted"
    assert_problem(client.delete("/api/v1/incidents/999999", headers=bearer(token)), 404)
    assert_problem(client.get("/api/v1/incidents/99999999999999999999"), 404)


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field"),
    [
        ("{not json", "application/json", 400, None),
        ('{"latitude": NaN}', "application/json", 400, None),
        ("[1, 2]", "application/json", 422, None),
        ("title=x", "application/x-www-form-urlencoded", 415, None),
        (None, None, 422, "title"),
    ],
)
def test_bad_input_is_a_4xx_problem(
    client: FlaskClient,
    token: str,
    body: str | None,
    content_type: str | None,
    status: int,
    field: str | None,
) -> None:
    if body is None:
        response = client.post("/api/v1/incidents", json={"narrative": "no title"}, headers=bearer(token))
    else:
        response = client.post(
            "/api/v1/incidents", data=body, headers={**bearer(token), "Content-Type": content_type or ""}
        )
    problem = assert_problem(response, status)
    if field:
        assert field in problem["errors"]


def test_validation_errors_are_keyed_by_field_path(client: FlaskClient, token: str) -> None:
    body = api_incident(unknown_field=1, latitude=123)
    body["citations"][0]["claims"][0] = {"category": "killed", "low": 5, "high": 2**40}
    problem = assert_problem(client.post("/api/v1/incidents", json=body, headers=bearer(token)), 422)
    assert problem["errors"]["unknown_field"] == ["Unknown field."]
    assert "latitude" in problem["errors"]
    assert "citations.0.claims.0.high" in problem["errors"]
    nul = api_incident(types=["killing\x00"])
    assert_problem(client.post("/api/v1/incidents", json=nul, headers=bearer(token)), 422)


def test_sources(client: FlaskClient, token: str) -> None:
    created = client.post(
        "/api/v1/sources",
        json={"title": "IACHR report", "kind": "intergovernmental_report", "publication_date": "2023-04-23"},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.data
    source_id = created.json["id"]
    assert_problem(client.get(f"/api/v1/sources/{source_id}"), 404)  # cited by no published incident
    assert client.get(f"/api/v1/sources/{source_id}", headers=bearer(token)).json["title"] == "IACHR report"
    invalid = client.post("/api/v1/sources", json={"title": "", "kind": "rumour"}, headers=bearer(token))
    assert {"title", "kind"} <= set(assert_problem(invalid, 422)["errors"])


def test_unknown_api_paths_and_methods_are_problems(client: FlaskClient) -> None:
    assert_problem(client.get("/api/v1/nothing"), 404)
    response = client.patch("/api/v1/incidents")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_openapi_description_and_docs_page(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    operations = {
        op["operationId"] for item in spec["paths"].values() for op in item.values() if "operationId" in op
    }
    assert operations == {
        "listIncidents", "createIncident", "getIncident", "replaceIncident", "retractIncident",
        "moveIncident", "listSources", "createSource", "getSource",
    }  # fmt: skip
    input_schema = spec["components"]["schemas"]["IncidentInput"]
    assert {"title", "citations", "version"} <= set(input_schema["properties"])
    page = client.get("/api/v1/docs")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<script" not in text
    assert "GET /api/v1/incidents" in text and "needs an editor's token" in text
    assert "http://" not in text.split("<main>")[1].split("</main>")[0].replace("http://localhost", "")


def test_claims_per_group_through_the_api(client: FlaskClient, token: str) -> None:
    """A source that counts detainees only by group: its figure is their sum, and the best estimate is checked
    against that; the record gives every claim's group back."""
    citation = {
        "source": {"title": "Coordinadora Nacional de Derechos Humanos", "kind": "ngo_report"},
        "claims": [
            {"category": "detained", "low": 150, "group": "students"},
            {"category": "detained", "low": 43, "high": 50, "group": "people from the regions"},
        ],
    }
    body = api_incident(citations=[citation], estimates=[{"category": "detained", "best": 160}])
    refused = client.post("/api/v1/incidents", json=body, headers=bearer(token))
    problem = assert_problem(refused, 422)
    assert problem["errors"] == {"estimates.0.best": ["Must lie within the sources' range (193–200)."]}
    one = api_incident(
        citations=[{**citation, "claims": citation["claims"][:1]}],
        estimates=[{"category": "detained", "best": 160}],
    )
    problem = assert_problem(client.post("/api/v1/incidents", json=one, headers=bearer(token)), 422)
    assert problem["errors"] == {"estimates.0.best": ["Must lie within the sources' range (150)."]}
    body["estimates"] = [{"category": "detained", "best": 195}]
    created = client.post("/api/v1/incidents", json=body, headers=bearer(token))
    assert created.status_code == 201, created.data
    record = created.json
    assert record["casualties"] == [
        {"category": "detained", "low": 193, "high": 200, "best": 195, "source_count": 1}
    ]
    assert record["citations"][0]["claims"] == [
        {"category": "detained", "low": 150, "high": 150, "group": "students"},
        {"category": "detained", "low": 43, "high": 50, "group": "people from the regions"},
    ]
    openapi = client.get("/api/v1/openapi.json").json
    assert "group" in openapi["components"]["schemas"]["ClaimRecord"]["properties"]

"""Role × route × method: the public, an editor, a reviewer and an admin each get what their role allows.

The table below names, for every endpoint and method, the least role that gets past the door; the test walks
the URL map, so a new route that is not in the table fails it (an incident's routes both by its public id and
by the number staff may use). Then a draft, an incident in review and a retracted one are fetched through
every page, API route and export format as each role: only staff see them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from incidents.extensions import db
from incidents.models import Incident, User
from incidents.vocabulary import Role
from tests.factories import add_incident, create_api_token
from tests.helpers import api_url, login, public_id
from tests.helpers import page as incident_page

PUBLIC, EDITOR, REVIEWER, ADMIN = 0, 1, 2, 3
ROLES = {"public": PUBLIC, "editor": EDITOR, "reviewer": REVIEWER, "admin": ADMIN}
# The role a staff account logs in or authenticates with, for each level.
ACCOUNT_ROLES = {EDITOR: Role.EDITOR, REVIEWER: Role.REVIEWER, ADMIN: Role.ADMIN}

# (endpoint, method) → the least role let through. Reviewer-only moves (publish, retract, correct a
# published incident) are checks of the workflow, behind the door: tests/test_workflow.py.
DOORS: dict[tuple[str, str], int] = {
    ("static", "GET"): PUBLIC,
    ("vendor", "GET"): PUBLIC,
    ("index", "GET"): PUBLIC,
    ("auth.login", "GET"): PUBLIC,
    ("auth.login", "POST"): PUBLIC,
    ("auth.logout", "POST"): PUBLIC,
    ("incidents.incident_list", "GET"): PUBLIC,
    ("incidents.incident_detail", "GET"): PUBLIC,
    ("maps.script", "GET"): PUBLIC,
    ("maps.data", "GET"): PUBLIC,
    ("timeline.page", "GET"): PUBLIC,
    ("exports.export", "GET"): PUBLIC,
    ("exports.export_schema", "GET"): PUBLIC,
    ("api.incident_list", "GET"): PUBLIC,
    ("api.incident_get", "GET"): PUBLIC,
    ("api.source_list", "GET"): PUBLIC,
    ("api.source_get", "GET"): PUBLIC,
    ("api.openapi", "GET"): PUBLIC,
    ("api.docs", "GET"): PUBLIC,
    ("account.index", "GET"): EDITOR,
    ("account.password", "POST"): EDITOR,
    ("account.token_create", "POST"): EDITOR,
    ("account.token_revoke", "POST"): EDITOR,
    ("incidents.incident_new", "GET"): EDITOR,
    ("incidents.incident_new", "POST"): EDITOR,
    ("incidents.incident_edit", "GET"): EDITOR,
    ("incidents.incident_edit", "POST"): EDITOR,
    ("incidents.geocode", "GET"): EDITOR,
    ("duplicates.distinct", "POST"): EDITOR,
    ("duplicates.merge_into", "POST"): EDITOR,
    ("importing.upload_form", "GET"): EDITOR,
    ("importing.upload", "POST"): EDITOR,
    ("importing.job_page", "GET"): EDITOR,
    ("importing.job_progress", "GET"): EDITOR,
    ("importing.confirm", "POST"): EDITOR,
    ("review.queue", "GET"): EDITOR,
    ("review.history", "GET"): EDITOR,
    ("review.move", "POST"): EDITOR,
    ("api.incident_create", "POST"): EDITOR,
    ("api.incident_replace", "PUT"): EDITOR,
    ("api.incident_retract", "DELETE"): EDITOR,
    ("api.incident_transition", "POST"): EDITOR,
    ("api.source_create", "POST"): EDITOR,
    ("admin.incident_types", "GET"): ADMIN,
    ("admin.incident_types", "POST"): ADMIN,
    ("admin.location_rules", "GET"): ADMIN,
    ("admin.location_rule_add", "POST"): ADMIN,
    ("admin.location_rule_remove", "POST"): ADMIN,
    ("admin.accounts", "GET"): ADMIN,
    ("admin.account_create", "POST"): ADMIN,
    ("admin.account_change", "POST"): ADMIN,
    ("admin.all_tokens", "GET"): ADMIN,
    ("admin.token_revoke", "POST"): ADMIN,
    ("erasure.erase_incident", "GET"): ADMIN,
    ("erasure.erase_incident", "POST"): ADMIN,
}


@pytest.fixture
def clients(app: Flask, make_user: Callable[..., User]) -> dict[int, tuple[FlaskClient, dict[str, str]]]:
    """For each role: a client (logged in for staff) and the API headers of that account's token."""
    found: dict[int, tuple[FlaskClient, dict[str, str]]] = {PUBLIC: (app.test_client(), {})}
    for level, role in ACCOUNT_ROLES.items():
        email = f"{role.value}@example.org"
        user = make_user(email, role)
        client = app.test_client()
        assert login(client, email).status_code == 302
        found[level] = (client, {"Authorization": f"Bearer {create_api_token(app, user)}"})
    return found


def _url(rule: str, incident: str = "") -> str:
    """The rule's URL with a value for each of its parts; incident names the incident (its public id, or
    the number staff may use)."""
    values = {
        "ref": incident,
        "flag_id": "1",
        "source_id": "1",
        "user_id": "1",
        "token_id": "999",
        "rule_id": "1",
        "token": "x" * 32,
        "fmt": "json",
        "version": "1.3",
        "package": "leaflet",
        "filename": "leaflet.css",
    }
    url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: values[m.group(1).split(":")[-1]], rule)
    return re.sub(r"<any\([^)]*\):(\w+)>", lambda m: values[m.group(1)], url)


def _let_through(response: TestResponse) -> bool:
    """Past the door: anything but a redirect to the login page, 401 and 403 (but the login form's own
    answer to a wrong password)."""
    if response.status_code == 401 and "Wrong email or password" in response.get_data(as_text=True):
        return True
    if response.status_code in (401, 403):
        return False
    return not (response.status_code == 302 and "/login" in response.headers.get("Location", ""))


def test_every_route_lets_through_exactly_the_roles_it_should(
    app: Flask, clients: dict[int, tuple[FlaskClient, dict[str, str]]]
) -> None:
    incident_id = add_incident(app, "An incident in review", status="in_review")
    # An incident's URL names it by its public id; staff may name it by its number too.
    refs = [public_id(app, incident_id), str(incident_id)]
    seen = set()
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            key = (rule.endpoint, method)
            assert key in DOORS, f"{rule.rule} {method} is in no row of the access table"
            seen.add(key)
            urls = (
                [_url(rule.rule, ref) for ref in refs] if "<incident:ref>" in rule.rule else [_url(rule.rule)]
            )
            for url in urls:
                for level, (client, api_headers) in clients.items():
                    headers = {
                        "Accept": "text/html",
                        **(api_headers if rule.endpoint.startswith("api.") else {}),
                    }
                    response = client.open(url, method=method, headers=headers)
                    response.get_data()  # a streamed export, read to its end
                    response.close()  # and a file sent from a package, closed
                    assert response.status_code < 500, (url, method, level, response.status_code)
                    assert _let_through(response) == (level >= DOORS[key]), (
                        url,
                        method,
                        level,
                        response.status_code,
                    )
                    if rule.endpoint == "auth.logout" and level >= EDITOR:  # the walk goes on logged in
                        assert login(client, f"{ACCOUNT_ROLES[level].value}@example.org").status_code == 302
    assert seen == set(DOORS)  # no row for a route that is gone


@pytest.mark.parametrize("status", ["draft", "in_review", "retracted"])
def test_an_unpublished_incident_is_seen_by_staff_only_through_every_road(
    app: Flask, clients: dict[int, tuple[FlaskClient, dict[str, str]]], status: str
) -> None:
    title = f"Unpublished incident ({status})"
    incident_id = add_incident(app, title, status=status, latitude=-15.5, longitude=-70.13)
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT status FROM incidents")) == status
    pages = [
        "/incidents/",
        "/",
        "/timeline",
        "/map/data.geojson?bbox=-180,-85,180,85&zoom=12",
        "/export.json",
        "/export.geojson",
        "/export.csv",
    ]
    for level, (client, api_headers) in clients.items():
        staff = level >= EDITOR
        detail = client.get(incident_page(app, incident_id))
        assert detail.status_code == (200 if staff else 404), (status, level)
        assert (title in detail.get_data(as_text=True)) == staff, (status, level)
        api = client.get(api_url(app, incident_id), headers=api_headers)
        assert api.status_code == (200 if staff else 404), (status, level)
        # Its number, as staff may use it (and as the public may for a published incident that had a numbered
        # URL before public ids, web.incident_refs): staff are sent to its page, the public finds nothing,
        # whether or not it had a numbered URL.
        for numbered_url in (False, True):
            with app.app_context():
                db.session.execute(
                    sa.update(Incident).where(Incident.id == incident_id).values(numbered_url=numbered_url)
                )
                db.session.commit()
            numbered = client.get(f"/incidents/{incident_id}")
            assert numbered.status_code == (301 if staff else 404), (status, level, numbered_url)
            if staff:
                assert numbered.headers["Location"].endswith(incident_page(app, incident_id))
            api = client.get(f"/api/v1/incidents/{incident_id}", headers=api_headers)
            assert api.status_code == (200 if staff else 404), (status, level, numbered_url)
            assert (title in api.get_data(as_text=True)) == staff, (status, level, numbered_url)
        listing = client.get("/api/v1/incidents", headers=api_headers).get_data(as_text=True)
        assert (title in listing) == staff, (status, level)
        for page in pages:
            body = client.get(page).get_data(as_text=True)
            assert (title in body) == staff, (status, level, page)
        history = client.get(incident_page(app, incident_id, "/history"))
        assert history.status_code == (200 if staff else 302), (status, level)
        numbered_history = client.get(f"/incidents/{incident_id}/history")
        assert numbered_history.status_code == (200 if staff else 302), (status, level)

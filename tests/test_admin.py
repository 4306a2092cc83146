"""Admins extend the incident type vocabulary; editors and the public cannot."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.extensions import db
from incidents.models import IncidentType


def type_count(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(IncidentType)) or 0


def test_admin_adds_a_type_that_editors_can_then_use(
    app: Flask, admin_client: FlaskClient, editor_client: FlaskClient
) -> None:
    response = admin_client.post("/admin/incident-types", data={"label": "Attack on journalists"})
    assert response.status_code == 302
    page = admin_client.get("/admin/incident-types").get_data(as_text=True)
    assert "Attack on journalists" in page and "attack_on_journalists" in page
    form = editor_client.get("/incidents/new").get_data(as_text=True)
    assert 'value="attack_on_journalists"' in form


def test_slug_from_accented_label(admin_client: FlaskClient) -> None:
    admin_client.post("/admin/incident-types", data={"label": "Detención arbitraria"})
    assert "detencion_arbitraria" in admin_client.get("/admin/incident-types").get_data(as_text=True)


def test_duplicates_and_bad_slugs_are_refused(app: Flask, admin_client: FlaskClient) -> None:
    before = type_count(app)
    duplicate = admin_client.post("/admin/incident-types", data={"label": "Curfew"})
    assert duplicate.status_code == 422
    assert "The type &#39;curfew&#39; exists already." in duplicate.get_data(as_text=True)
    same_label = admin_client.post("/admin/incident-types", data={"label": "CURFEW", "slug": "curfew_2"})
    assert "A type labelled &#39;CURFEW&#39; exists already." in same_label.get_data(as_text=True)
    bad = admin_client.post("/admin/incident-types", data={"label": "Kettling", "slug": "Kettling!"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "Use lower-case letters, digits and single underscores." in page
    assert 'value="Kettling"' in page
    empty = admin_client.post("/admin/incident-types", data={"label": ""})
    assert empty.status_code == 422
    assert "Must not be empty." in empty.get_data(as_text=True)
    assert type_count(app) == before


def test_editors_and_public_cannot_add_types(app: Flask, editor_client: FlaskClient) -> None:
    before = type_count(app)
    assert editor_client.post("/admin/incident-types", data={"label": "X"}).status_code == 403
    assert editor_client.get("/admin/incident-types").status_code == 403
    assert app.test_client().post("/admin/incident-types", data={"label": "X"}).status_code == 401
    assert type_count(app) == before

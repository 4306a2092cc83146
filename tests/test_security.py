"""Deny by default, the headers every response carries, and start-up refusals."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from incidents import create_app
from incidents.config import ConfigurationError
from incidents.public_ids import is_public_id
from incidents.web.security import PUBLIC_ENDPOINTS
from tests.factories import PRODUCTION_SETTINGS

PRODUCTION = {**PRODUCTION_SETTINGS, "SQLALCHEMY_DATABASE_URI": "sqlite://"}
# An incident's public id, as a URL names it (incidents.public_ids); no incident needs to have it.
A_PUBLIC_ID = "k7q2m9x4ab3f"


def _concrete_urls(rule: str) -> list[str]:
    """The rule's URL with a value for each part: an incident named by its public id, and (as staff may)
    by its number."""

    def url(incident: str) -> str:
        return re.sub(
            r"<(?:[^:<>]+:)?([^<>]+)>",
            lambda m: incident if m.group(1) == "ref" else "1" if "id" in m.group(1) else "x",
            rule,
        )

    return [url(A_PUBLIC_ID), url("1")] if "<incident:ref>" in rule else [url(A_PUBLIC_ID)]


def test_every_endpoint_not_on_the_public_list_needs_an_account(app: Flask, client: FlaskClient) -> None:
    assert is_public_id(A_PUBLIC_ID)
    checked = 0
    incident_routes = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        incident_routes += "<incident:ref>" in rule.rule
        for url in _concrete_urls(rule.rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                response = client.open(url, method=method, headers={"Accept": "text/html"})
                assert response.status_code in (302, 401, 403), (url, method, response.status_code)
                if response.status_code == 302:
                    assert "/login" in response.headers["Location"], (url, method)
                checked += 1
    assert checked >= 3  # new incident, edit, geocode at least
    # edit, transition, history, the two duplicate moves, and the API's write routes
    assert incident_routes >= 8


def test_public_list_names_only_real_endpoints(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints >= PUBLIC_ENDPOINTS


def test_headers_on_pages_and_errors(client: FlaskClient) -> None:
    for url in ("/incidents/", "/does-not-exist", "/login"):
        response = client.get(url)
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


@pytest.mark.app_config(PRODUCTION_SETTINGS)
def test_production_responses_carry_hsts(client: FlaskClient) -> None:
    for url in ("/", "/timeline", "/incidents/", "/login", "/does-not-exist", "/incidents/new"):
        response = client.get(url)
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains", url


def test_development_responses_carry_no_hsts(client: FlaskClient) -> None:
    for url in ("/", "/login", "/does-not-exist"):
        assert "Strict-Transport-Security" not in client.get(url).headers, url


def test_staff_pages_are_not_cached(editor_client: FlaskClient) -> None:
    assert editor_client.get("/incidents/").headers["Cache-Control"] == "no-store"


def test_tile_server_is_allowed_for_images_only_when_configured(app: Flask) -> None:
    app.config["TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    csp = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in csp
    assert "connect-src 'self';" in csp


def test_no_script_or_style_comes_from_another_host(editor_client: FlaskClient) -> None:
    page = editor_client.get("/incidents/new").get_data(as_text=True)
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not url.startswith(("http:", "https:", "//")), url


def test_leaflet_is_served_by_the_app(client: FlaskClient) -> None:
    with client.get("/vendor/leaflet/leaflet.js") as response:
        assert response.status_code == 200
        assert b"Leaflet" in response.data[:2000]
    assert client.get("/vendor/nothing/x.js").status_code == 404


def test_refuses_production_without_secret_key(tmp_path: object) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app({**PRODUCTION, "SECRET_KEY": None})


def test_refuses_production_with_debug() -> None:
    with pytest.raises(ConfigurationError, match="debug"):
        create_app({**PRODUCTION, "DEBUG": True})


@pytest.mark.parametrize("profile", ["CHEAPEST", "PRE_21_2"])
def test_refuses_production_with_a_weak_password_hash_profile(profile: str) -> None:
    with pytest.raises(ConfigurationError, match=f"production with PASSWORD_HASH_PROFILE {profile}"):
        create_app({**PRODUCTION, "PASSWORD_HASH_PROFILE": profile})


def test_production_takes_either_rfc_9106_profile_and_nothing_unknown_anywhere() -> None:
    for profile in ("RFC_9106_LOW_MEMORY", "RFC_9106_HIGH_MEMORY"):
        app = create_app({**PRODUCTION, "PASSWORD_HASH_PROFILE": profile})
        assert app.config["PASSWORD_HASH_PROFILE"] == profile
    with pytest.raises(ConfigurationError, match="'FAST' is not one of argon2's profiles"):
        create_app(
            {"SECRET_KEY": "k" * 40, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PASSWORD_HASH_PROFILE": "FAST"}
        )


def test_production_cookies_are_secure() -> None:
    app = create_app(PRODUCTION)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_forms_refuse_requests_without_csrf_token(app: Flask, make_user: object) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    response = client.post("/login", data={"email": "a@example.org", "password": "x" * 12})
    assert response.status_code == 400
    assert b"CSRF" in response.data


@pytest.mark.parametrize(
    "url",
    [
        "/incidents/?type=%00",
        "/?type=%00",
        "/map/data.geojson?type=%00",
        "/timeline?type=%00",
        "/export.csv?type=%00",
        "/export.json?type=Killing%20spree",
        "/api/v1/incidents?type=%00",
    ],
)
def test_malformed_type_filter_is_a_400_everywhere(client: FlaskClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "Not an incident type" in text or "NUL characters are not allowed" in text


@pytest.mark.parametrize(
    "url",
    ["/incidents/99999999999999999999", "/incidents/0", "/api/v1/incidents/99999999999999999999"],
)
def test_ids_beyond_the_database_range_are_not_found(client: FlaskClient, url: str) -> None:
    assert client.get(url).status_code == 404

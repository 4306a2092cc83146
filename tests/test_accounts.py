"""Accounts and tokens managed in the app: made, given roles, deactivated, reset; every step audited."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.extensions import db
from incidents.models import ApiToken, AuditEntry, User
from incidents.vocabulary import Role
from tests.factories import PASSWORD, create_api_token
from tests.helpers import login

NEW_PASSWORD = "another long passphrase"


def _account_id(app: Flask, email: str) -> int:
    with app.app_context():
        found = db.session.scalar(sa.select(User.id).where(User.email == email))
    assert found is not None
    return found


def _operations(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEntry.operation).order_by(AuditEntry.seq)))


def test_an_admin_makes_an_account_and_changes_its_role(app: Flask, admin_client: FlaskClient) -> None:
    made = admin_client.post(
        "/admin/accounts", data={"email": "Rosa@Example.org", "role": "editor", "password": PASSWORD}
    )
    assert made.status_code == 302
    page = admin_client.get("/admin/accounts").get_data(as_text=True)
    assert "rosa@example.org" in page
    rosa = _account_id(app, "rosa@example.org")
    assert (
        admin_client.post(f"/admin/accounts/{rosa}", data={"change": "role", "role": "reviewer"}).status_code
        == 302
    )
    with app.app_context():
        assert db.session.get_one(User, rosa).role == Role.REVIEWER
    # Bad input names the field; nothing changes.
    short = admin_client.post(
        "/admin/accounts", data={"email": "x@example.org", "role": "editor", "password": "short"}
    )
    assert short.status_code == 422 and "must be at least 12 characters long" in short.get_data(as_text=True)
    taken = admin_client.post(
        "/admin/accounts", data={"email": "rosa@example.org", "role": "editor", "password": PASSWORD}
    )
    assert taken.status_code == 422 and "already exists" in taken.get_data(as_text=True)
    odd = admin_client.post(f"/admin/accounts/{rosa}", data={"change": "role", "role": "owner"})
    assert odd.status_code == 422 and "&#39;owner&#39; is not a role" in odd.get_data(as_text=True)
    assert {"account.create", "account.role"} <= set(_operations(app))


def test_the_last_admin_stays_an_admin(app: Flask, admin_client: FlaskClient) -> None:
    admin = _account_id(app, "admin@example.org")
    refused = admin_client.post(f"/admin/accounts/{admin}", data={"change": "role", "role": "editor"})
    assert refused.status_code == 422 and "the last active admin" in refused.get_data(as_text=True)
    refused = admin_client.post(f"/admin/accounts/{admin}", data={"change": "deactivate"})
    assert refused.status_code == 422


def test_deactivating_ends_the_accounts_sessions_and_tokens_at_once(
    app: Flask, admin_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("leaving@example.org")
    token = create_api_token(app, user)
    session = app.test_client()
    assert login(session, "leaving@example.org").status_code == 302
    assert session.get("/incidents/new").status_code == 200
    api = {"Authorization": f"Bearer {token}"}
    assert session.get("/api/v1/sources", headers=api).status_code == 200
    assert admin_client.post(f"/admin/accounts/{user.id}", data={"change": "deactivate"}).status_code == 302
    assert session.get("/incidents/new").status_code == 302  # to the login page: the session is dead
    refused = session.get("/api/v1/sources", headers=api)
    assert refused.status_code == 401 and "revoked" in refused.json["detail"]
    assert login(app.test_client(), "leaving@example.org").status_code == 401
    operations = _operations(app)
    assert "account.deactivate" in operations
    assert "session.use.refused" in operations and "token.use.refused" in operations


def test_an_admin_resets_a_password_and_the_old_one_and_its_sessions_stop(
    app: Flask, admin_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    user = make_user("lost@example.org")
    session = app.test_client()
    login(session, "lost@example.org")
    reset = admin_client.post(
        f"/admin/accounts/{user.id}", data={"change": "password", "password": NEW_PASSWORD}
    )
    assert reset.status_code == 302
    assert session.get("/incidents/new").status_code == 302
    assert login(app.test_client(), "lost@example.org").status_code == 401
    assert login(app.test_client(), "lost@example.org", NEW_PASSWORD).status_code == 302


def test_everyone_changes_their_own_password_with_the_old_one(app: Flask, editor_client: FlaskClient) -> None:
    other = app.test_client()
    assert login(other, "editor@example.org").status_code == 302
    wrong = editor_client.post(
        "/account/password",
        data={"old_password": "not it at all", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "this is not your present password" in wrong.get_data(as_text=True)
    differ = editor_client.post(
        "/account/password",
        data={"old_password": PASSWORD, "password": NEW_PASSWORD, "confirm": "something else"},
    )
    assert differ.status_code == 422 and "the two new passwords differ" in differ.get_data(as_text=True)
    done = editor_client.post(
        "/account/password",
        data={"old_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert done.status_code == 302
    assert editor_client.get("/incidents/new").status_code == 200  # this session goes on
    assert other.get("/incidents/new").status_code == 302  # the other one ended
    assert login(app.test_client(), "editor@example.org", NEW_PASSWORD).status_code == 302


def test_tokens_are_made_listed_and_revoked_on_the_account_page(
    app: Flask, editor_client: FlaskClient
) -> None:
    made = editor_client.post("/account/tokens", data={"name": "field laptop"})
    assert made.status_code == 201
    page = made.get_data(as_text=True)
    token = re.search(r'<code class="token">(inc_[^<]+)</code>', page)
    assert token and "It is shown only now" in page
    api = {"Authorization": f"Bearer {token.group(1)}"}
    assert editor_client.get("/api/v1/sources", headers=api).status_code == 200
    listing = editor_client.get("/account/").get_data(as_text=True)
    assert "field laptop" in listing and token.group(1) not in listing  # listed, never shown again
    with app.app_context():
        record = db.session.scalars(sa.select(ApiToken)).one()
        expires = (
            record.expires_at.replace(tzinfo=dt.UTC)
            if record.expires_at.tzinfo is None
            else record.expires_at
        )
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
    assert editor_client.post(f"/account/tokens/{record.id}/revoke").status_code == 302
    assert editor_client.get("/api/v1/sources", headers=api).status_code == 401


def test_an_admin_sees_and_revokes_any_token_and_no_one_else_does(
    app: Flask, admin_client: FlaskClient, editor_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    token = create_api_token(app, make_user("ana@example.org"), "ana's script")
    assert "ana&#39;s script" in admin_client.get("/admin/tokens").get_data(as_text=True)
    with app.app_context():
        record = db.session.scalars(sa.select(ApiToken)).one()
    assert editor_client.get("/admin/tokens").status_code == 403
    assert editor_client.post(f"/account/tokens/{record.id}/revoke").status_code == 404  # not the editor's
    assert admin_client.post(f"/admin/tokens/{record.id}/revoke").status_code == 302
    assert (
        app.test_client().get("/api/v1/sources", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


@pytest.mark.app_config({"TOKEN_LIFETIME_DAYS": 0})
def test_an_expired_token_is_refused_and_the_attempt_recorded(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    token = create_api_token(app, make_user("ana@example.org"))
    refused = client.get("/api/v1/sources", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401 and "has expired" in refused.json["detail"]
    assert "token.use.refused" in _operations(app)


def test_editors_and_reviewers_do_not_manage_accounts(
    editor_client: FlaskClient, make_user: Callable[..., User], app: Flask
) -> None:
    for path in ("/admin/accounts", "/admin/tokens"):
        assert editor_client.get(path).status_code == 403
    assert (
        editor_client.post("/admin/accounts", data={"email": "x@example.org", "role": "admin"}).status_code
        == 403
    )

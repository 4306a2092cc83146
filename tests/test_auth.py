"""Accounts: login, logout, roles, throttling, the create-user command."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, extract_parameters, profiles
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.config import DEFAULTS
from incidents.extensions import db
from incidents.models import User
from incidents.passwords import (
    DEFAULT_PROFILE,
    DUMMY_HASH,
    PROFILES,
    Hashing,
    hash_password,
    hashing,
    verify_password,
)
from incidents.services.accounts import change_password
from incidents.vocabulary import Role
from tests.factories import PASSWORD
from tests.helpers import login


def test_login_and_logout(client: FlaskClient, make_user: Callable[..., User]) -> None:
    make_user("ana@example.org")
    response = login(client, "ANA@example.org ")
    assert response.status_code == 302
    page = client.get("/incidents/").get_data(as_text=True)
    assert "ana@example.org" in page
    assert client.get("/incidents/new").status_code == 200
    client.post("/logout")
    assert client.get("/incidents/new").status_code == 302


def test_wrong_password_and_unknown_account_get_the_same_answer(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    make_user("ana@example.org")
    wrong = login(client, "ana@example.org", "wrong password 123")
    unknown = login(client, "nobody@example.org", "wrong password 123")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Wrong email or password." in wrong.data

    def page(response: object, email: str) -> str:
        text = response.get_data(as_text=True).replace(email, "")  # type: ignore[attr-defined]
        return re.sub(r'name="csrf_token" value="[^"]*"', "", text)

    assert page(wrong, "ana@example.org") == page(unknown, "nobody@example.org")


def test_login_keeps_the_typed_email(client: FlaskClient) -> None:
    response = login(client, "typo@example.org", "wrong password 123")
    assert b'value="typo@example.org"' in response.data


def test_session_is_dead_after_logout_elsewhere(app: Flask, make_user: Callable[..., User]) -> None:
    make_user("ana@example.org")
    first, second = app.test_client(), app.test_client()
    login(first, "ana@example.org")
    login(second, "ana@example.org")
    first.post("/logout")
    # logging out ends every session of the account: a stolen cookie stops working too
    assert second.get("/incidents/new").status_code == 302


def test_password_change_ends_sessions(app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user("ana@example.org")
    client = app.test_client()
    login(client, "ana@example.org")
    with app.app_context():
        change_password(db.session.get(User, user.id), PASSWORD, "another long password", COMMAND_LINE)
        db.session.commit()
    assert client.get("/incidents/new").status_code == 302


def test_new_session_id_at_login(client: FlaskClient, make_user: Callable[..., User]) -> None:
    make_user("ana@example.org")
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    login(client, "ana@example.org")
    with client.session_transaction() as session:
        assert "planted" not in session


def test_open_redirect_after_login_is_refused(client: FlaskClient, make_user: Callable[..., User]) -> None:
    make_user("ana@example.org")
    response = client.post(
        "/login?next=https://evil.example/", data={"email": "ana@example.org", "password": PASSWORD}
    )
    assert response.headers["Location"] == "/"


def test_login_throttling_per_client(app: Flask, make_user: Callable[..., User]) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "10 per 5 minutes"
    make_user("ana@example.org")
    client = app.test_client()
    statuses = [login(client, f"user{i}@example.org", "wrong password 123").status_code for i in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[10] == 429


def test_successful_logins_do_not_count_against_the_limit(app: Flask, make_user: Callable[..., User]) -> None:
    """A newsroom behind one address logs in many times a day: only failed logins are limited."""
    app.config["LOGIN_RATE_LIMIT"] = "10 per 5 minutes"
    app.config["LOGIN_ATTEMPT_LIMIT"] = "30 per 5 minutes"
    make_user("ana@example.org")
    statuses = [login(app.test_client(), "ana@example.org", PASSWORD).status_code for _ in range(15)]
    assert statuses == [302] * 15
    client = app.test_client()
    failed = [login(client, "ana@example.org", "wrong password 123").status_code for _ in range(11)]
    assert failed == [401] * 10 + [429]
    assert b"Too many failed logins" in login(client, "ana@example.org", PASSWORD).data


def test_every_attempt_counts_against_a_higher_cap_before_the_password_is_checked(
    app: Flask, make_user: Callable[..., User]
) -> None:
    """Failed logins are counted once answered, so attempts sent at one moment would all pass that limit;
    the cap on all attempts is counted first."""
    app.config["LOGIN_ATTEMPT_LIMIT"] = "5 per 5 minutes"
    make_user("ana@example.org")
    statuses = [login(app.test_client(), "ana@example.org", PASSWORD).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]
    assert b"Too many login attempts" in login(app.test_client(), "ana@example.org", PASSWORD).data


def test_login_throttling_per_account_leaves_others_alone(app: Flask, make_user: Callable[..., User]) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "10 per 5 minutes"
    make_user("ana@example.org")
    make_user("ben@example.org")
    for i in range(10):
        # each attempt from another address, all against one account
        app.test_client().post(
            "/login",
            data={"email": "ana@example.org", "password": "wrong password 123"},
            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"},
        )
    blocked = app.test_client().post(
        "/login",
        data={"email": "ana@example.org", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.1.1"},
    )
    assert blocked.status_code == 429
    other = app.test_client().post(
        "/login",
        data={"email": "ben@example.org", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.1.2"},
    )
    assert other.status_code == 302


def test_create_user_command(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["create-user", "Carla@Example.org", "--role", "admin", "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin carla@example.org" in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "carla@example.org"))
        assert user is not None and user.role == Role.ADMIN
        assert PASSWORD not in user.password_hash and user.password_hash.startswith("$argon2id$")


def test_create_user_prompts_for_password(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["create-user", "dan@example.org"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    client = app.test_client()
    assert login(client, "dan@example.org").status_code == 302


def test_create_user_refuses_short_password_and_duplicates(app: Flask, runner: FlaskCliRunner) -> None:
    short = runner.invoke(args=["create-user", "eve@example.org", "--password", "short"])
    assert short.exit_code != 0
    assert "password: must be at least 12 characters long" in short.output
    runner.invoke(args=["create-user", "eve@example.org", "--password", PASSWORD])
    again = runner.invoke(args=["create-user", "EVE@example.org", "--password", PASSWORD])
    assert again.exit_code != 0 and "already exists" in again.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_create_user_refuses_unknown_role(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["create-user", "f@example.org", "--role", "god", "--password", PASSWORD])
    assert result.exit_code == 2
    assert "'god' is not one of" in result.output


def test_the_unknown_account_hash_costs_what_a_real_one_costs(app: Flask) -> None:
    """Logging in as nobody verifies against a dummy hash: it must have the parameters real hashes get, with
    the default profile (DUMMY_HASH, written in the code) and with every other (one made for it)."""
    assert not PasswordHasher().check_needs_rehash(DUMMY_HASH)
    assert Hashing.for_profile(DEFAULT_PROFILE).dummy_hash == DUMMY_HASH
    for name, parameters in PROFILES.items():
        made = Hashing.for_profile(name)
        assert not made.hasher.check_needs_rehash(made.dummy_hash), name
        assert extract_parameters(made.dummy_hash) == parameters, name
    with app.app_context():
        used = hashing()
        assert used is hashing()  # one per app, made once
        assert not used.hasher.check_needs_rehash(used.dummy_hash)
        assert used.hasher.check_needs_rehash(hash_password("x" * 12)) is False
        assert verify_password(None, "not a real password, only for timing") is False


@pytest.mark.app_config({"PASSWORD_HASH_PROFILE": DEFAULTS["PASSWORD_HASH_PROFILE"]})
def test_with_the_default_configuration_hashes_have_the_production_parameters(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    """The suite hashes with argon2's CHEAPEST profile (tests/conftest.py); the production parameters are
    checked here, once: the library's recommended RFC 9106 profile, as PasswordHasher() has them."""
    assert DEFAULTS["PASSWORD_HASH_PROFILE"] == "RFC_9106_LOW_MEMORY"
    user = make_user("ana@example.org")
    assert extract_parameters(user.password_hash) == profiles.RFC_9106_LOW_MEMORY
    assert not PasswordHasher().check_needs_rehash(user.password_hash)
    with app.app_context():
        assert hashing().dummy_hash == DUMMY_HASH
    assert login(client, "nobody@example.org").status_code == 401
    assert login(client, "ana@example.org", "wrong password 123").status_code == 401
    assert login(client, "ana@example.org").status_code == 302


def test_hashes_made_with_other_parameters_still_verify(
    app: Flask, client: FlaskClient, make_user: Callable[..., User]
) -> None:
    """argon2 reads the parameters from the hash: changing the profile locks nobody out. (Here, an account
    hashed with the production parameters, in an app hashing with CHEAPEST.)"""
    assert app.config["PASSWORD_HASH_PROFILE"] == "CHEAPEST"
    user = make_user("ana@example.org")
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert stored is not None
        stored.password_hash = PasswordHasher().hash(PASSWORD)
        db.session.commit()
        assert extract_parameters(stored.password_hash) == profiles.RFC_9106_LOW_MEMORY
    assert login(client, "ana@example.org", "wrong password 123").status_code == 401
    assert login(client, "ana@example.org").status_code == 302

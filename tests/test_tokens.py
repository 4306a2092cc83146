"""API tokens are stored hashed, identify their user, and stop working when revoked."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask

from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.services.tokens import create_token, revoke_token, user_for_token


def test_token_lifecycle(app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user("ana@example.org")
    with app.app_context():
        record, token = create_token(db.session.get(User, user.id), "laptop")
        db.session.commit()
        stored = db.session.scalar(sa.select(ApiToken))
        assert stored is not None and token not in (stored.token_hash, stored.prefix)
        assert stored.prefix == token[:12]
        found = user_for_token(token)
        assert found is not None and found.email == "ana@example.org"
        assert user_for_token(token + "x") is None
        assert user_for_token("not-a-token") is None
        revoke_token(record)
        db.session.commit()
        assert user_for_token(token) is None

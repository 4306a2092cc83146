"""API tokens are stored hashed, identify their user, and stop working when revoked."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.services.tokens import TokenRefused, create_token, revoke_token, user_for_token


def test_token_lifecycle(app: Flask, make_user: Callable[..., User]) -> None:
    user = make_user("ana@example.org")
    with app.app_context():
        record, token = create_token(db.session.get(User, user.id), "laptop", COMMAND_LINE)
        db.session.commit()
        stored = db.session.scalar(sa.select(ApiToken))
        assert stored is not None and token not in (stored.token_hash, stored.prefix)
        assert stored.prefix == token[:12]
        found, used = user_for_token(token)
        assert found.email == "ana@example.org" and used.id == record.id
        for wrong in (token + "x", "not-a-token"):
            with pytest.raises(TokenRefused, match="unknown or malformed"):
                user_for_token(wrong)
        revoke_token(record, COMMAND_LINE)
        db.session.commit()
        with pytest.raises(TokenRefused, match="revoked"):
            user_for_token(token)

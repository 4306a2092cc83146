"""API tokens are stored hashed, identify their user, and stop working when revoked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.models.columns import utcnow
from incidents.services.tokens import TokenRefused, create_token, note_use, revoke_token, user_for_token


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


def _writes_during(app: Flask, action: Callable[[], object]) -> list[str]:
    """The INSERT, UPDATE and DELETE statements sent to the database while action runs."""
    writes: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    return writes


def _last_used(app: Flask) -> dt.datetime | None:
    with app.app_context():
        return db.session.scalar(sa.select(ApiToken.last_used_at))


def _in_utc(moment: dt.datetime | None) -> dt.datetime:
    assert moment is not None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def test_api_reads_note_the_tokens_use_at_most_once_a_minute(
    app: Flask, client: FlaskClient, token: str
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    assert _last_used(app) is None

    first = _writes_during(app, lambda: client.get("/api/v1/sources", headers=headers))
    assert len(first) == 1 and "api_tokens" in first[0]
    used = _in_utc(_last_used(app))
    assert dt.timedelta(0) <= dt.datetime.now(dt.UTC) - used < dt.timedelta(seconds=30)

    # Reads within the minute write nothing at all: no statement that would take a write lock.
    for path in ("/api/v1/sources", "/api/v1/incidents", "/api/v1/sources"):
        assert _writes_during(app, lambda path=path: client.get(path, headers=headers)) == []
    assert _in_utc(_last_used(app)) == used

    # A minute later, the next request notes the use again.
    with app.app_context():
        db.session.execute(sa.update(ApiToken).values(last_used_at=used - dt.timedelta(seconds=61)))
        db.session.commit()
    assert len(_writes_during(app, lambda: client.get("/api/v1/sources", headers=headers))) == 1
    assert _in_utc(_last_used(app)) >= used


def test_requests_racing_past_the_check_note_the_use_once(app: Flask, token: str) -> None:
    """Two requests read the token before either wrote its use: the second one's update changes nothing."""
    with app.app_context():
        _user, record = user_for_token(token)
        assert record.last_used_at is None
        with db.engine.begin() as other:  # the other request, done first
            other.execute(sa.update(ApiToken).values(last_used_at=utcnow()))
        assert note_use(record) is False
        db.session.commit()
        noted = _in_utc(_last_used(app))
        assert dt.datetime.now(dt.UTC) - noted < dt.timedelta(seconds=30)

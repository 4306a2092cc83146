"""API authentication: `Authorization: Bearer inc_…` tokens only, never the browser's session cookie.

Because no cookie authenticates an API request, a page on another site cannot make a visitor's browser
write through the API, so the API needs no CSRF token. Reading published records needs no token; writing,
and reading unpublished records, needs an editor's token.
"""

from __future__ import annotations

from flask import Response, g, request

from incidents.audit import Actor, Channel
from incidents.extensions import db
from incidents.models import User
from incidents.services.refusals import record_refusal
from incidents.services.tokens import TokenRefused, note_use, use_to_note, user_for_token
from incidents.services.transactions import commit_if_free
from incidents.web.api.problems import problem


def authenticate(*, public: bool) -> Response | None:
    """Run before every API request: identify the token's user, or answer 401/403 as a problem."""
    g.api_user = None
    header = request.headers.get("Authorization")
    if header is None:
        if public:
            return None
        return problem(
            401,
            "Authentication required",
            "This operation needs an editor's API token: Authorization: Bearer inc_….",
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="incidents"'},
        )
    scheme, _, token = header.partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise TokenRefused("Give the token as Authorization: Bearer inc_….")
        user, record = user_for_token(token.strip())
    except TokenRefused as refused:
        db.session.rollback()
        if refused.record is not None:
            # A known token that no longer works (expired, revoked, its account deactivated): the attempt
            # is kept in the audit trail, under the token's account.
            actor = Actor(refused.record.user, Channel.API, refused.record.id)
            record_refusal(actor, "token.use", "token", refused.record.id, str(refused))
            db.session.commit()
        return problem(
            401,
            "Invalid token",
            str(refused),
            kind="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="incidents", error="invalid_token"'},
        )
    if use_to_note(record):
        # At most once a minute, and only if the database is free now: a read request never waits for
        # another's write for this, nor fails for it (a later request notes the use).
        commit_if_free(lambda: note_use(record))
    if not user.can_edit:
        return problem(403, "Forbidden", "This account may not use the API.", kind="forbidden")
    g.api_user = user
    g.api_token_id = record.id
    return None


def api_user() -> User | None:
    """The editor whose token authenticated this request, if any."""
    user: User | None = g.get("api_user")
    return user


def api_actor() -> Actor:
    """Who makes this request's changes: the token's account, through the API, with the token's id."""
    return Actor(api_user(), Channel.API, g.get("api_token_id"))

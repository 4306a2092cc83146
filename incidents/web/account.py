"""Every account's own page: its password, and its API tokens (made, listed, revoked)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from incidents.extensions import db
from incidents.models import ApiToken, User
from incidents.services.accounts import AccountError, change_password
from incidents.services.tokens import TokenError, create_token, revoke_token, tokens
from incidents.web.security import require_login, web_actor

blueprint = Blueprint("account", __name__, url_prefix="/account")


def _account() -> User:
    """The logged-in account itself (not the request's proxy for it), for the services."""
    user: User = current_user._get_current_object()
    return user


def _page(status: int = 200, **context: object) -> tuple[str, int]:
    page = render_template(
        "account/index.html",
        tokens=tokens(_account()),
        errors=context.pop("errors", {}),
        new_token=context.pop("new_token", None),
        **context,
    )
    return page, status


@blueprint.get("/")
def index() -> tuple[str, int]:
    require_login()
    return _page()


@blueprint.post("/password")
def password() -> Response | tuple[str, int]:
    """Change your own password: the old one first; every other session of the account ends."""
    require_login()
    user = _account()
    new, confirm = request.form.get("password", ""), request.form.get("confirm", "")
    try:
        if new != confirm:
            raise AccountError("confirm", "the two new passwords differ")
        change_password(user, request.form.get("old_password", ""), new, web_actor())
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        return _page(422, errors={error.field: error.message})
    login_user(user)  # this session goes on, with the account's new session id; the others end
    flash("Your password is changed; your other sessions have ended.", "info")
    return redirect(url_for("account.index"))


@blueprint.post("/tokens")
def token_create() -> tuple[str, int]:
    """A new API token, shown on this page once (never put in a cookie or a redirect)."""
    require_login()
    if not current_user.can_edit:
        abort(403)
    try:
        record, token = create_token(_account(), request.form.get("name", ""), web_actor())
        db.session.commit()
    except TokenError as error:
        db.session.rollback()
        return _page(422, errors={"name": str(error)})
    return _page(201, new_token=(record, token))


@blueprint.post("/tokens/<id:token_id>/revoke")
def token_revoke(token_id: int) -> Response:
    require_login()
    record = db.session.get(ApiToken, token_id)
    if record is None or record.user_id != current_user.id:
        abort(404)  # another account's token: as if it did not exist
    revoke_token(record, web_actor())
    db.session.commit()
    flash(f"Revoked the token {record.prefix}….", "info")
    return redirect(url_for("account.index"))

"""Log in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from incidents.audit import Actor, Channel
from incidents.extensions import db, limiter, login_manager
from incidents.models import User
from incidents.services.accounts import authenticate, end_sessions, normalise_email
from incidents.services.refusals import record_refusal

blueprint = Blueprint("auth", __name__)

login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None:
        return None
    if not user.is_active or user.session_nonce != nonce:
        # A session that ended (a password change, a deactivation, a logout elsewhere) used again: the
        # attempt is kept in the audit trail, under its account, and the request goes on as the public's.
        why = "deactivated" if not user.is_active else "ended"
        record_refusal(
            Actor(user, Channel.WEB), "session.use", "account", user.id, f"The account's session has {why}."
        )
        db.session.commit()
        return None
    return user


def _account_key() -> str:
    return "account:" + normalise_email(request.form.get("email", ""))


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _attempt_limit() -> str:
    return str(current_app.config["LOGIN_ATTEMPT_LIMIT"])


def _failed(response: Response) -> bool:
    """Only failed logins count against the limits: a newsroom behind one address logs in many times."""
    return response.status_code == 401


def _safe_next(target: str | None) -> str:
    """Only follow a redirect target on this site."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("index")


@blueprint.route("/login", methods=["GET", "POST"])
# Failed logins are counted once answered (deduct_when): attempts sent at the same moment all pass that test,
# so every attempt also counts, before the password is checked, against a higher cap.
@limiter.limit(_attempt_limit, methods=["POST"], error_message="Too many login attempts; wait a few minutes.")
@limiter.limit(
    _attempt_limit,
    key_func=_account_key,
    methods=["POST"],
    error_message="Too many login attempts for this account; wait a few minutes.",
)
@limiter.limit(
    _login_limit,
    methods=["POST"],
    deduct_when=_failed,
    error_message="Too many failed logins; wait a few minutes.",
)
@limiter.limit(
    _login_limit,
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    error_message="Too many failed logins for this account; wait a few minutes.",
)
def login() -> Response | str | tuple[str, int]:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "")
        user = authenticate(email, request.form.get("password", ""))
        if user is not None:
            session.clear()  # a new session at login
            login_user(user)
            session.permanent = True
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong email or password.", "error")
        return render_template("auth/login.html", email=email), 401
    return render_template("auth/login.html", email=email)


@blueprint.post("/logout")
def logout() -> Response:
    if current_user.is_authenticated:
        end_sessions(current_user)
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("index"))

"""Deny by default, and the headers every response carries."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from incidents.audit import Actor, Channel

# The only endpoints a visitor who is not logged in may reach. Everything else needs an account.
PUBLIC_ENDPOINTS = frozenset(
    {
        "static",
        "vendor",
        "index",
        "auth.login",
        "auth.logout",
        "incidents.incident_list",
        "incidents.incident_detail",
        # The map (at /, endpoint "index") and the timeline: published incidents only, unless staff.
        "maps.script",
        "maps.data",
        "timeline.page",
        # Exports and API reads show the public what it may see; staff (by session or token) see more.
        "exports.export",
        "exports.export_schema",
        "api.incident_list",
        "api.incident_get",
        "api.source_list",
        "api.source_get",
        "api.openapi",
        "api.docs",
    }
)

# HTTP Strict Transport Security, sent in production only.
HSTS = "max-age=31536000; includeSubDomains"


def init_app(app: Flask) -> None:
    app.before_request(_require_login)
    app.after_request(_set_headers)


def _require_login() -> Response | None:
    if request.blueprint == "api":
        # The API authenticates by token only, never by the session cookie; it answers with problems.
        from incidents.web.api.auth import authenticate

        return authenticate(public=request.endpoint in PUBLIC_ENDPOINTS)
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    if request.endpoint is None:
        return None  # a 404 or 405: let Flask answer it
    wants_json = request.accept_mimetypes.best == "application/json"
    if request.method in ("GET", "HEAD") and not wants_json:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    abort(401)


def web_actor() -> Actor:
    """Who makes this request's changes: the logged-in account, through a page."""
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return Actor(user, Channel.WEB)


def has_account() -> bool:
    """Whether an account makes this request: by its token on the API (which never takes the session
    cookie), logged in elsewhere. Accounts get the larger query budget and no rate limits."""
    if request.blueprint == "api":
        from incidents.web.api.auth import api_user

        return api_user() is not None
    return bool(current_user.is_authenticated)


def is_staff() -> bool:
    """Whether this visitor sees what staff see: unpublished incidents and confidential fields."""
    return bool(current_user.is_authenticated and current_user.can_edit)


def require_login() -> None:
    """Abort with 401 unless someone is logged in (every page not public redirects to the login before)."""
    if not current_user.is_authenticated:
        abort(401)


def require_reviewer() -> None:
    """Abort with 403 unless the user may send back, publish and retract."""
    if not (current_user.is_authenticated and current_user.can_review):
        abort(403)


def require_editor() -> None:
    """Abort with 403 unless the user may create and edit records."""
    if not (current_user.is_authenticated and current_user.can_edit):
        abort(403)


def require_admin() -> None:
    if not (current_user.is_authenticated and current_user.is_admin):
        abort(403)


def _tile_origin() -> str:
    url = current_app.config.get("TILE_URL") or ""
    parts = urlsplit(url.replace("{s}", "a"))
    if not parts.scheme or not parts.netloc:
        return ""
    host = parts.netloc
    # Subdomain templates ({s}.tile...) need a wildcard.
    if "{s}" in url:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


def _set_headers(response: Response) -> Response:
    tiles = _tile_origin()
    img_src = "'self' data:" + (f" {tiles}" if tiles else "")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src {img_src}; connect-src 'self'; font-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if current_app.config["ENVIRONMENT"] == "production":
        # Browsers then refuse plain http to this host (and its subdomains) for a year. Not in development,
        # where it would pin localhost to https for every other app run on it.
        response.headers["Strict-Transport-Security"] = HSTS
    if current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response

"""Admin pages: the incident type vocabulary, the location rules, the accounts, and every API token."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from incidents.extensions import db
from incidents.models import ApiToken, LocationRule, User
from incidents.queries import choices
from incidents.schemas.errors import by_top_field
from incidents.services.accounts import (
    AccountError,
    create_user,
    reset_password,
    set_active,
    set_role,
)
from incidents.services.accounts import accounts as account_list
from incidents.services.incident_types import add_incident_type
from incidents.services.location_rules import RuleRefused, add_rule, describe, remove_rule, rules
from incidents.services.tokens import revoke_token, tokens
from incidents.vocabulary import LocationRuleKind, Role
from incidents.web.security import require_admin, web_actor

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.route("/incident-types", methods=["GET", "POST"])
def incident_types() -> Response | str | tuple[str, int]:
    require_admin()
    typed = {"label": "", "slug": ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        typed = {name: request.form.get(name, "") for name in typed}
        try:
            added = add_incident_type(typed, web_actor())
            db.session.commit()
        except ValidationError as error:
            db.session.rollback()
            errors = by_top_field(error.messages)
        else:
            flash(f"Added the incident type “{added.label}”.", "info")
            return redirect(url_for("admin.incident_types"))
    page = render_template(
        "admin/incident_types.html",
        types=choices.incident_types(),
        usage=choices.incident_type_usage(),
        typed=typed,
        errors=errors,
    )
    return (page, 422) if errors else page


_RULE_FIELDS = ("kind", "source_id", "incident_type", "country", "admin1", "grid_degrees", "reason")


@blueprint.get("/location-rules")
def location_rules() -> str:
    require_admin()
    return _rules_page()[0]


def _rules_page(
    status: int = 200, errors: dict[str, str] | None = None, typed: dict[str, str] | None = None
) -> tuple[str, int]:
    found = rules()
    page = render_template(
        "admin/location_rules.html",
        rules=[(rule, describe(rule)) for rule in found],
        kinds=LocationRuleKind.choices(),
        types=[(t.slug, t.label) for t in choices.incident_types()],
        grid=current_app.config["LOCATION_GRID_DEGREES"],
        errors=errors or {},
        typed=typed or dict.fromkeys(_RULE_FIELDS, ""),
        adding=typed is not None,
    )
    return page, status


@blueprint.post("/location-rules")
def location_rule_add() -> Response | tuple[str, int]:
    """A new rule: every incident it covers is published coarsened from now on."""
    require_admin()
    typed = {name: request.form.get(name, "").strip() for name in _RULE_FIELDS}
    raw = {name: value for name, value in typed.items() if value != ""}
    try:
        rule, covered = add_rule(raw, web_actor())
        db.session.commit()
    except ValidationError as error:
        db.session.rollback()
        return _rules_page(422, by_top_field(error.messages), typed)
    flash(f"Added the rule: {describe(rule)} ({covered} now) are published coarsened.", "info")
    return redirect(url_for("admin.location_rules"))


@blueprint.post("/location-rules/<id:rule_id>/remove")
def location_rule_remove(rule_id: int) -> Response | tuple[str, int]:
    require_admin()
    rule = db.get_or_404(LocationRule, rule_id)
    described = describe(rule)
    try:
        covered = remove_rule(rule, web_actor(), reason=request.form.get("reason", ""))
        db.session.commit()
    except RuleRefused as error:
        db.session.rollback()
        return _rules_page(422, {f"{rule_id}-{error.field}": error.message})
    flash(f"Removed the rule on {described}: {covered} incident(s) follow their own marks again.", "info")
    return redirect(url_for("admin.location_rules"))


@blueprint.get("/accounts")
def accounts() -> str:
    require_admin()
    return _accounts_page()[0]


def _accounts_page(
    status: int = 200, errors: dict[str, str] | None = None, typed: dict[str, str] | None = None
) -> tuple[str, int]:
    page = render_template(
        "admin/accounts.html",
        accounts=account_list(),
        roles=Role.choices(),
        errors=errors or {},
        typed=typed or {"email": "", "role": Role.EDITOR.value},
    )
    return page, status


@blueprint.post("/accounts")
def account_create() -> Response | tuple[str, int]:
    """A new account: an email, a role, and a first password the admin passes on."""
    require_admin()
    typed = {"email": request.form.get("email", ""), "role": request.form.get("role", "")}
    try:
        role = _role(typed["role"])
        created = create_user(typed["email"], request.form.get("password", ""), role, web_actor())
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        return _accounts_page(422, {error.field: error.message}, typed)
    flash(f"Made the account {created.email} ({created.role.label}).", "info")
    return redirect(url_for("admin.accounts"))


@blueprint.post("/accounts/<id:user_id>")
def account_change(user_id: int) -> Response | tuple[str, int]:
    """Change an account: its role, whether it is active (deactivating ends its sessions and tokens at
    once), or its password (reset: every session of it ends)."""
    require_admin()
    user = db.get_or_404(User, user_id)
    change = request.form.get("change", "")
    try:
        if change == "role":
            set_role(user, _role(request.form.get("role", "")), web_actor())
            done = f"{user.email} is now {user.role.label}."
        elif change in ("deactivate", "activate"):
            set_active(user, change == "activate", web_actor())
            state = "active" if user.is_active else "deactivated: its sessions and tokens are dead"
            done = f"{user.email} is {state}."
        elif change == "password":
            reset_password(user, request.form.get("password", ""), web_actor())
            done = f"Set a new password for {user.email}; its sessions have ended."
        else:
            raise AccountError("change", f"{change!r} is not a change an account takes")
        db.session.commit()
    except AccountError as error:
        db.session.rollback()
        return _accounts_page(422, {f"{user.id}-{error.field}": error.message})
    flash(done, "info")
    return redirect(url_for("admin.accounts"))


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise AccountError(
            "role", f"{value!r} is not a role: one of {', '.join(r.value for r in Role)}"
        ) from None


@blueprint.get("/tokens")
def all_tokens() -> str:
    require_admin()
    return render_template("admin/tokens.html", tokens=tokens())


@blueprint.post("/tokens/<id:token_id>/revoke")
def token_revoke(token_id: int) -> Response:
    require_admin()
    record = db.get_or_404(ApiToken, token_id)
    revoke_token(record, web_actor())
    db.session.commit()
    flash(f"Revoked {record.user.email}'s token {record.prefix}….", "info")
    return redirect(url_for("admin.all_tokens"))

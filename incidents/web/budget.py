"""The query budget of each GET request (incidents.query_budget): PUBLIC_QUERY_BUDGET seconds for the
public, STAFF_QUERY_BUDGET for accounts. A request whose queries run past it is answered 503 with
Retry-After, "narrow it", as a page or as a problem; never a 500, and nothing of it was changed.

Only GET and HEAD requests have a budget: a save is one unit of work that commits whole or not at all, never
stopped half-way (and a unit of work run within a GET, such as the note of a token's use, lifts the budget:
services.transactions). The budget starts after the visitor is known (web.security), so that looking up the
session or the token is not counted against it. A streamed export spends its budget on its first batch only
(web.exports).
"""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from werkzeug.wrappers import Response

from incidents import query_budget
from incidents.extensions import db
from incidents.query_budget import QueryBudgetExceeded
from incidents.web.api.problems import too_costly_problem, wants_problem
from incidents.web.security import has_account

# Seconds to wait before asking again: the same request would spend another budget for the same answer
# while the load that may have slowed it (several costly requests at once) lasts.
RETRY_AFTER = 30


def init_app(app: Flask) -> None:
    # After web.security's before_request, which knows who is asking.
    app.before_request(_start)
    app.teardown_request(_end)
    app.register_error_handler(QueryBudgetExceeded, too_costly)


def _start() -> None:
    if request.method not in ("GET", "HEAD"):
        return
    seconds = current_app.config["STAFF_QUERY_BUDGET" if has_account() else "PUBLIC_QUERY_BUDGET"]
    if seconds:
        query_budget.start(seconds)


def _end(_error: BaseException | None) -> None:
    query_budget.stop()


def too_costly(error: QueryBudgetExceeded) -> Response | tuple[str, int, dict[str, str]]:
    """503: the page saying to narrow the request, or the problem saying so."""
    query_budget.stop()  # what follows (the page's own few queries) must not meet the budget spent
    db.session.rollback()
    current_app.logger.warning("query budget exceeded: %s %s: %s", request.method, request.full_path, error)
    if wants_problem():
        detail = (
            f"Its queries could not be answered within {error.seconds:g} seconds. Narrow it (a shorter "
            "period, a country, a region or a type, a longer search text) or send it again later."
        )
        return too_costly_problem(detail, RETRY_AFTER)
    page = render_template("too_costly.html", seconds=error.seconds, retry_after=RETRY_AFTER)
    return page, 503, {"Retry-After": str(RETRY_AFTER)}

"""Rate limits on the public's costly requests, per client address (Flask-Limiter, counting where
RATELIMIT_STORAGE_URI says: by default the database, web.limit_storage), and the 429 answer to them.

Searches (the list and the map with a search text, and the timeline: SEARCH_RATE_LIMIT, counted together),
the map's data (MAP_DATA_RATE_LIMIT), the exports (EXPORT_RATE_LIMIT) and the API's lists (API_RATE_LIMIT).
Accounts, logged in or by token, are not limited: they are few, made by an admin, and their requests are in
the query budget of staff (web.budget). Browsing the list and the map without a search text is not counted:
those pages read few rows, and each count is a write. Login attempts have their limits in web.auth.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Flask, current_app, render_template, request
from flask_limiter import RateLimitExceeded
from werkzeug.wrappers import Response

from incidents.extensions import limiter
from incidents.web.api.problems import rate_limited_problem, wants_problem
from incidents.web.security import has_account

# Retry-After when the window's end cannot be read (the counts' store unreachable).
FALLBACK_RETRY_AFTER = 60


def _setting(name: str) -> Callable[[], str]:
    """The limit the setting gives now (read at each request, so that a changed setting applies)."""
    return lambda: str(current_app.config[name])


def _browsing() -> bool:
    """Exempt: an account, or the list or the map without a search text."""
    return has_account() or not request.args.get("q", "").strip()


_SEARCHES = "Too many searches from your address in a short time."

# The list and the map: counted when they search a text.
text_search_limit = limiter.shared_limit(
    _setting("SEARCH_RATE_LIMIT"), scope="search", exempt_when=_browsing, error_message=_SEARCHES
)
# The timeline: counted with the searches, whatever its filters (it reads every incident they select).
timeline_limit = limiter.shared_limit(
    _setting("SEARCH_RATE_LIMIT"), scope="search", exempt_when=has_account, error_message=_SEARCHES
)
map_data_limit = limiter.limit(
    _setting("MAP_DATA_RATE_LIMIT"),
    exempt_when=has_account,
    error_message="Too many requests for the map's data from your address in a short time.",
)
export_limit = limiter.limit(
    _setting("EXPORT_RATE_LIMIT"),
    exempt_when=has_account,
    error_message="Too many exports from your address in a short time.",
)
api_list_limit = limiter.shared_limit(
    _setting("API_RATE_LIMIT"),
    scope="api-list",
    exempt_when=has_account,
    error_message="Too many pages of the API's lists from this address without a token in a short time.",
)


def init_app(app: Flask) -> None:
    app.register_error_handler(RateLimitExceeded, too_many_requests)


def too_many_requests(error: RateLimitExceeded) -> Response | tuple[str, int, dict[str, str]]:
    """429 with Retry-After (the seconds until the limit's window ends): a page, or a problem."""
    retry_after = _seconds_to_window_end()
    message = error.description or "Too many requests from your address in a short time."
    if wants_problem():
        return rate_limited_problem(message, retry_after)
    page = render_template("too_many_requests.html", message=message, retry_after=retry_after)
    return page, 429, {"Retry-After": str(retry_after)}


def _seconds_to_window_end() -> int:
    breached = limiter.current_limit
    if breached is None:
        return FALLBACK_RETRY_AFTER
    return max(1, math.ceil(breached.window.reset_time - time.time()))

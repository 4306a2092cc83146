"""A database too busy to take a change: 503 with Retry-After and a page saying nothing was saved; never a
500. The saves of the entry form and the API answer it themselves, keeping what was typed; this is the
answer of every other request (services.transactions)."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from sqlalchemy.exc import OperationalError

from incidents.extensions import db
from incidents.services.transactions import DatabaseBusy, is_busy, retry_after

# What the entry form says above the text it keeps.
FORM_MESSAGE = (
    "The database was busy with other changes and this save could not wait longer. Your text is kept "
    "below: save it again in a few seconds."
)


def init_app(app: Flask) -> None:
    app.register_error_handler(DatabaseBusy, busy_page)
    app.register_error_handler(OperationalError, _operational_error)


def retry_after_header(seconds: int | None = None) -> dict[str, str]:
    return {"Retry-After": str(seconds if seconds is not None else retry_after())}


def busy_page(error: Exception) -> tuple[str, int, dict[str, str]]:
    """The 503 page: the session rolled back, nothing of the request's change kept."""
    db.session.rollback()
    current_app.logger.warning("database busy: %s %s: %s", request.method, request.path, error)
    seconds = error.retry_after if isinstance(error, DatabaseBusy) else retry_after()
    return render_template("busy.html", retry_after=seconds), 503, retry_after_header(seconds)


def _operational_error(error: OperationalError) -> tuple[str, int, dict[str, str]]:
    if is_busy(error):
        return busy_page(error)
    raise error  # any other failure of the database is a 500, logged, as without this handler

"""Conditional requests for what the public reads of one incident: its page and its API record.

An anonymous visitor's answer carries an ETag made from everything that answer shows: the incident's stored
public record (which derived.stored_records rewrites in the transaction of any change that reaches it: the
incident's edit, a source's, a location rule's, a type's new label, a sensitivity mark), its version and
last update, the code and templates of this release, the address permalinks are built on and, for the page,
today's date (its citation line says "accessed" today). A request whose If-None-Match holds that ETag is
answered 304 after one query (exports.public_page.published), without rendering anything; a retracted
incident is no longer found by that query, and gets its 404.

`Cache-Control: public, no-cache`: a proxy may keep the answer but must ask again every time, which costs
that one query. No max-age, not even a short one: a retraction, or a location found too precise, must leave
public view at once, not a minute later. Logged-in visitors (staff, and anyone whose page names their
account) get `no-store` (web.security) and no ETag; so do pages with a message waiting to be shown.

Last-Modified is the incident's last edit, or the start of today, or this release, whichever is latest:
for information. A request with If-Modified-Since alone is answered in full, never 304: a source's
correction or a new location rule changes the page without changing a date the database keeps, so only the
ETag can tell.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from flask import Response, current_app, request, session
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from incidents.exports.public_page import PublishedIncident
from incidents.exports.stored import LAYOUT

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# What a release changes in a page: code, templates, data files the app reads.
_RELEASE_FILES = (".py", ".html", ".json", ".css", ".js")
PUBLIC_CACHE_CONTROL = "public, no-cache"


@dataclass(frozen=True)
class Release:
    digest: str
    written: dt.datetime  # when the newest of its files was written


@functools.cache
def release() -> Release:
    """This installation's code and templates, digested once a process: a new release makes new ETags."""
    digest = hashlib.blake2b(digest_size=16)
    newest = 0.0
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.suffix not in _RELEASE_FILES or "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    return Release(digest.hexdigest(), dt.datetime.fromtimestamp(int(newest), dt.UTC))


def shared_answer() -> bool:
    """Whether this request gets the answer every anonymous visitor gets, which a proxy may keep: nobody is
    logged in and no message waits to be shown (a flash lives in this visitor's session)."""
    return not current_user.is_authenticated and not session.get("_flashes")


@dataclass(frozen=True)
class Validators:
    etag: str
    last_modified: dt.datetime
    vary: str  # the request header the answer depends on besides the URL (who is asking)


def _base_url() -> str:
    """Where the answer's links point: permalinks on PUBLIC_BASE_URL (else the address asked), the others
    under the path the app is mounted at."""
    return (current_app.config.get("PUBLIC_BASE_URL") or request.host_url) + "\x00" + request.script_root


def page_validators(incident: PublishedIncident, today: dt.date) -> Validators:
    """The public page's validators: of what it shows, as exports.public_page read it, on this day."""
    return _validators(
        "page",
        incident,
        [today.isoformat(), str(incident.version), incident.updated_at.isoformat()],
        [incident.location_method.value],
        start_of=dt.datetime.combine(today, dt.time()).astimezone(dt.UTC),
        vary="Cookie",
    )


def record_validators(incident: PublishedIncident) -> Validators:
    """The API's public record's validators (the record says nothing of version, date or today)."""
    return _validators("api", incident, [], [], start_of=None, vary="Authorization")


def _validators(
    kind: str,
    incident: PublishedIncident,
    facts: list[str],
    more: list[str],
    *,
    start_of: dt.datetime | None,
    vary: str,
) -> Validators:
    if incident.record is None:
        raise ValueError("validators are made from a stored record")
    made = release()
    digest = hashlib.blake2b(digest_size=16)
    for part in (made.digest, LAYOUT, _base_url(), *facts, *more):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(incident.record)
    updated = incident.updated_at
    if updated.tzinfo is None:  # SQLite keeps no offset; every timestamp is written in UTC
        updated = updated.replace(tzinfo=dt.UTC)
    moments = [updated, made.written] + ([start_of] if start_of is not None else [])
    return Validators(f"{kind}-{digest.hexdigest()}", max(moments), vary)


def not_modified(validators: Validators) -> Response | None:
    """A 304 when the request's If-None-Match holds this ETag (If-Modified-Since alone is not enough: see
    above); else None, and the answer is to be made in full."""
    if request.method not in ("GET", "HEAD") or not request.if_none_match.contains_weak(validators.etag):
        return None
    return with_validators(Response(status=304), validators)


R = TypeVar("R", bound=BaseResponse)


def with_validators(response: R, validators: Validators) -> R:
    """The answer with its ETag, Last-Modified and the cache's instructions."""
    response.set_etag(validators.etag)
    response.last_modified = validators.last_modified
    response.headers["Cache-Control"] = PUBLIC_CACHE_CONTROL
    response.vary.add(validators.vary)
    return response

"""What tests do and read, shared by the test modules: logging in, exporting, importing, counting rows.

(Test data is made in tests/factories.py.) A test module imports from here, from tests/factories.py, and
from no other test module (tests/test_suite_layout.py checks it).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from werkzeug.test import TestResponse

from incidents import audit, create_app
from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    DuplicateFlag,
    Incident,
    MapCell,
    Source,
    incident_type_links,
)
from incidents.services.incident_types import seed_incident_types
from tests.factories import PASSWORD

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
UCDP_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucdp_ged_bangladesh_sample.csv"


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    return client.post("/login", data={"email": email, "password": password})


def incident_id(app: Flask, title_start: str) -> int:
    """The id of the one incident whose title starts so."""
    with app.app_context():
        return db.session.scalars(sa.select(Incident.id).where(Incident.title.startswith(title_start))).one()


def public_id(app: Flask, incident_id: int) -> str:
    """The public id of the incident with this (database) id."""
    with app.app_context():
        return db.session.scalars(sa.select(Incident.public_id).where(Incident.id == incident_id)).one()


def page(app: Flask, incident_id: int, suffix: str = "") -> str:
    """The URL of the incident's page (suffix: "/edit", "/history", "/transition" …), by its public id."""
    return f"/incidents/{public_id(app, incident_id)}{suffix}"


def api_url(app: Flask, incident_id: int, suffix: str = "") -> str:
    """The API's URL of the incident, by its public id."""
    return f"/api/v1/incidents/{public_id(app, incident_id)}{suffix}"


def id_of_public(app: Flask, public: str) -> int:
    """The database id of the incident with this public id (from a Location header, a record, a link)."""
    with app.app_context():
        return db.session.scalars(sa.select(Incident.id).where(Incident.public_id == public)).one()


def save_from_another_process(incident_id: int) -> None:
    """A colleague's save, committed on a connection of its own: the incident's version moves on."""
    with db.engine.begin() as other:
        other.execute(
            sa.text("UPDATE incidents SET version = version + 1 WHERE id = :id"), {"id": incident_id}
        )


def before_each_unit(monkeypatch: Any, module: Any, action: Callable[[], None]) -> None:
    """Run action before each unit of work the module commits (services.transactions.commit_unit): on SQLite,
    where a save holds the write lock from its first read, the one moment another process can commit."""
    real = module.commit_unit

    def action_first(change: Any) -> Any:
        action()
        return real(change)

    monkeypatch.setattr(module, "commit_unit", action_first)


@contextmanager
def another_instance(app: Flask) -> Iterator[Flask]:
    """The app made again, on the same database with the same settings, as another worker process makes
    it; its connections closed at the end."""
    other = create_app(dict(app.config))
    try:
        yield other
    finally:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@contextmanager
def database_held(
    app: Flask, tables: tuple[str, ...] = ("incidents", "sources", "api_tokens")
) -> Iterator[Callable[[], None]]:
    """Another client's write transaction holding the database until the block ends (or the function it
    gives is called): on SQLite the write lock, taken with BEGIN IMMEDIATE; on PostgreSQL the tables given
    (by default those a save writes first), locked against any write but readable."""
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() == "sqlite":
        holder = sqlite3.connect(str(url.database), isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield holder.rollback
        finally:
            holder.rollback()
            holder.close()
        return
    engine = sa.create_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE"))
            try:
                yield connection.rollback
            finally:
                connection.rollback()
    finally:
        engine.dispose()


def empty_the_database(app: Flask) -> None:
    """Every row gone, as in a new database, but for the seed vocabulary."""
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(sa.delete(table))
        seed_incident_types()
        db.session.commit()


# -- exports -------------------------------------------------------------------------------------------------


def export_json(client: FlaskClient, query: str = "") -> dict[str, Any]:
    """The JSON export from the web, checked to be streamed JSON."""
    response = client.get("/export.json" + query)
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    assert response.is_streamed
    document: dict[str, Any] = json.loads(response.data)
    return document


def export_file(runner: FlaskCliRunner, path: Path, *options: str) -> dict[str, object]:
    """The JSON export written by `flask export` to path, read back."""
    result = runner.invoke(args=["export", "--format", "json", "-o", str(path), *options])
    assert result.exit_code == 0, result.output
    document: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return document


def checksum(document: dict[str, object]) -> str:
    """The checksum an export's header gives."""
    header = document["header"]
    assert isinstance(header, dict)
    return str(header["checksum"]["value"])


def recomputed_checksum(document: dict[str, Any]) -> str:
    """The checksum as a third party computes it from the README's definition, with the standard library."""
    digest = hashlib.sha256()
    for incident in document["incidents"]:
        content = {key: value for key, value in incident.items() if key != "url"}
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest.update(canonical.encode("utf-8") + b"\n")
    return digest.hexdigest()


# -- the audit trail -----------------------------------------------------------------------------------------


def audit_copy_digest(value: Any) -> str:
    """An audit entry content's digest as a third party computes it from the README, with the standard
    library: a tombstone stands for what it replaced; an object hashes its keys and its values' digests, an
    array its items' digests, anything else its JSON."""
    if (
        isinstance(value, dict)
        and set(value) == {"digest", "erased", "erasure_seq"}
        and value["erased"] is True
    ):
        return str(value["digest"])
    if isinstance(value, dict):
        parts = b"{" + b"".join(
            json.dumps(key, ensure_ascii=False).encode() + audit_copy_digest(value[key]).encode()
            for key in sorted(value)
        )
    elif isinstance(value, list):
        parts = b"[" + b"".join(audit_copy_digest(item).encode() for item in value)
    else:
        parts = b"=" + json.dumps(value, ensure_ascii=False).encode()
    return hashlib.sha256(parts).hexdigest()


def checked_audit_copy(lines: list[dict[str, Any]]) -> str:
    """Check a copy of the audit trail (`audit export`'s lines, read) as the README says anyone can: each
    line's digest is its content's, its hash covers the previous hash and that digest, the head names the
    last. The head hash."""
    *entries, head = lines
    previous = "0" * 64
    for entry in entries:
        assert entry["previous_hash"] == previous
        assert audit_copy_digest(entry["content"]) == entry["content_digest"]
        line_hash = hashlib.sha256(f"{previous}\n{entry['content_digest']}".encode()).hexdigest()
        assert line_hash == entry["entry_hash"]
        previous = entry["entry_hash"]
    assert head == {"head": {"count": len(entries), "entry_hash": previous}}
    return previous


# -- imports -------------------------------------------------------------------------------------------------


def run_import(runner: FlaskCliRunner, path: Path | str, *options: str) -> Result:
    return runner.invoke(args=["import", str(path), *options])


def counts(app: Flask) -> dict[str, int]:
    """Rows in every table an import writes to."""
    with app.app_context():
        return {
            name: db.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for name, table in (
                ("incidents", Incident),
                ("sources", Source),
                ("citations", Citation),
                ("claims", CasualtyClaim),
                ("estimates", CasualtyEstimate),
                ("type_links", incident_type_links),
                ("flags", DuplicateFlag),
                ("map_cells", MapCell),
            )
        }


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def incident(app: Flask, external_id: str) -> Incident:
    """The imported incident of this external id, with its citations loaded (detached from the session)."""
    with app.app_context():
        found = db.session.scalars(sa.select(Incident).where(Incident.external_id == external_id)).one()
        for citation in found.citations:
            _ = citation.source, citation.claims
        _ = found.types, found.estimates
        db.session.expunge_all()
        return found


def upload(client: FlaskClient, path: Path, name: str | None = None, **form: str) -> str:
    """Upload a file; the job page's address."""
    data = {"file": (io.BytesIO(path.read_bytes()), name or path.name), "format": "auto", **form}
    response = client.post("/import/", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def confirm_form(page: str) -> dict[str, str]:
    action = re.search(r'<form method="post" action="([^"]+/confirm)"', page)
    digest = re.search(r'name="sha256" value="([0-9a-f]{64})"', page)
    assert action and digest, "no confirmation form on the page"
    return {"action": action.group(1), "sha256": digest.group(1)}


def database_sound(app: Flask) -> None:
    """SQLite's integrity check passes and the audit chain verifies."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            with sqlite3.connect(str(db.engine.url.database)) as connection:
                assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            connection.close()
        found = audit.verify(db.session.connection())
        assert found.ok, found.problem
        db.session.remove()


def database_checks(app: Flask) -> None:
    """What must hold after any crash: database_sound, and no incident without its citation (each save here
    makes one). The app fixture checks the derived data after the test."""
    database_sound(app)
    with app.app_context():
        bare = sa.select(sa.func.count()).select_from(Incident).where(~Incident.citations.any())
        assert db.session.scalar(bare) == 0
        db.session.remove()


def public_ids(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(sa.select(Incident.public_id)))

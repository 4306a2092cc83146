"""Measure one erasure: an incident, then a source, in a database of generated incidents with a history.

    python -m bench.erase_bench [--incidents 10000] [--history 20000] [--repeat 3] [--seed 1]
                                [--database-url URL] [--json]

A fresh database (SQLite in a temporary folder, or --database-url, emptied first) gets --incidents generated
incidents (bench.generate) and their map cells, then an audit trail of --history entries, each an incident's
full snapshot as a save writes it (the trail is what an erasure scans for copies), and an admin account.
Then, --repeat times, the erasure of one incident (picked by the seed, with three entries of history of its
own) as `flask erase incident` runs it: the service in one unit of work, committed (`erase`), then the
purge of the database's files (`purge`: SQLite's checkpoint, PostgreSQL's VACUUM); then the same for one
source (with the number of incidents citing it). Times in milliseconds, wall clock, one process.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.machine import describe as describe_machine
from bench.save_bench import fresh_app

ADMIN = "bench-admin@example.org"


def _prepare(database_url: str, incidents: int, history: int, seed: int) -> Any:
    """The app on a fresh database with the generated incidents, their map cells and a history."""
    from incidents.audit import COMMAND_LINE
    from incidents.derived import map_cells
    from incidents.extensions import db
    from incidents.models import Incident
    from incidents.services.accounts import create_user
    from incidents.vocabulary import Role

    app = fresh_app(database_url, seed, incidents)
    rng = random.Random(seed)
    with app.app_context():
        map_cells.rebuild(db.session.connection())
        create_user(ADMIN, "bench-password-1", Role.ADMIN, COMMAND_LINE)
        db.session.commit()
        ids = list(db.session.scalars(sa.select(Incident.id)))
    _write_history(app, rng.choices(ids, k=history))
    return app


def _write_history(app: Any, incident_ids: list[int]) -> None:
    """An incident.update entry for each of these ids, with the incident's whole snapshot as its values."""
    from incidents import audit
    from incidents.audit import COMMAND_LINE
    from incidents.extensions import db
    from incidents.models import Incident
    from incidents.services.incidents import snapshot

    with app.app_context():
        for start in range(0, len(incident_ids), 500):
            for incident_id in incident_ids[start : start + 500]:
                values = audit.changes(None, snapshot(db.session.get_one(Incident, incident_id)))
                audit.record(
                    db.session.connection(),
                    COMMAND_LINE,
                    "incident.update",
                    "incident",
                    incident_id,
                    changes=values,
                )
            db.session.commit()
            db.session.expunge_all()


def _timed_erasure(app: Any, erase: Any) -> dict[str, float]:
    from incidents.services import erasure
    from incidents.services.transactions import commit_unit

    with app.app_context():
        began = time.perf_counter()
        done = commit_unit(erase)
        erased = time.perf_counter()
        purged = erasure.purge()
        ended = time.perf_counter()
        if not purged.done:
            raise SystemExit(purged.message)
        return {
            "erase_ms": round((erased - began) * 1000, 1),
            "purge_ms": round((ended - erased) * 1000, 1),
            "entries_tombstoned": len(done.entries),
            "incidents_changed": len(done.changed),
        }


def run(database_url: str, incidents: int, history: int, repeat: int, seed: int) -> dict[str, Any]:
    from incidents.audit import Actor, Channel
    from incidents.extensions import db
    from incidents.models import Citation, Incident, Source
    from incidents.services import erasure
    from incidents.services.accounts import account_by_email

    app = _prepare(database_url, incidents, history, seed)
    rng = random.Random(seed)
    results: dict[str, Any] = {"incident": [], "source": []}
    with app.app_context():
        audit_entries = db.session.scalar(sa.text("SELECT count(*) FROM audit_entries"))
        ids = list(db.session.scalars(sa.select(Incident.id)))
        targets = rng.sample(ids, repeat)
        sources = rng.sample(list(db.session.scalars(sa.select(Source.id))), repeat)
    _write_history(app, targets * 3)

    def admin() -> Actor:
        return Actor(account_by_email(ADMIN), Channel.CLI)

    for incident_id, source_id in zip(targets, sources, strict=True):
        with app.app_context():
            cited_by = db.session.scalar(
                sa.select(sa.func.count(sa.distinct(Citation.incident_id))).where(
                    Citation.source_id == source_id
                )
            )

        def erase_incident(incident_id: int = incident_id) -> Any:
            found = db.session.get_one(Incident, incident_id)
            return erasure.erase_incident(found, admin(), reason="benchmark")

        def erase_source(source_id: int = source_id) -> Any:
            return erasure.erase_source(db.session.get_one(Source, source_id), admin(), reason="benchmark")

        results["incident"].append(_timed_erasure(app, erase_incident))
        results["source"].append({**_timed_erasure(app, erase_source), "cited_by": cited_by})
    with app.app_context():
        db.engine.dispose()
    return {"incidents": incidents, "audit_entries": audit_entries, **results}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=20_000, help="audit entries written before")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--json", action="store_true", help="print the measures as one JSON line")
    args = parser.parse_args(argv)
    described = describe_machine()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        measured = run(url, args.incidents, args.history, args.repeat, args.seed)
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    if args.json:
        print(json.dumps({"backend": backend, "machine": described, **measured}))
        return
    entries = measured["audit_entries"]
    print(f"{backend}: {measured['incidents']} incidents, {entries} audit entries. {described}")
    for kind in ("incident", "source"):
        for one in measured[kind]:
            print(f"erase {kind}: {json.dumps(one)}")


if __name__ == "__main__":
    main()

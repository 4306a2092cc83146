"""Measure saving incidents through the API: creates and replaces per second, and what each one costs.

    python -m bench.save_bench [--saves 1000] [--seed 1] [--background 20000] [--database-url URL]
                               [--json] [--write-results]

A fresh database (SQLite in a temporary folder, or --database-url, emptied first) gets --background generated
incidents (bench.generate: sources, citations, claims, estimates, every status and precision), an editor
account and an API token made by the app's own CLI commands. Then, in this process, through the app's WSGI
stack (Flask's test client: routing, token check, schema, services, commit, response; no network):
--saves `POST /api/v1/incidents` of seeded drafts (one to three citations each, to existing or new sources,
with claims that disagree, estimates, coordinates jittered around real places) and as many
`PUT /api/v1/incidents/<id>` replacing each one with changed figures and title. Every response must be 201
or 200; anything else stops the run.

Reported per operation: saves per second, the mean, median and 95th percentile of one save in milliseconds,
and the CPU this process used (and the PostgreSQL server's, read from /proc, when it runs here). The same
command runs on any commit that has the API and the CLI commands, which is how the audit trail's cost was
measured: see results/save.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.generate import PLACES, generate
from bench.import_bench import _cpu, _postgres_cpu
from bench.machine import describe as describe_machine

CATEGORIES = ["killed", "injured", "detained", "disappeared", "displaced"]
SOURCE_KINDS = ["ngo_report", "press", "press", "press", "witness_testimony", "official_statement"]
TYPES = [
    "raid",
    "arrest_detention",
    "mass_roundup",
    "killing",
    "injury",
    "curfew",
    "ill_treatment_torture",
    "threat_harassment",
]
GRADES = ["confirmed", "fair", "weak", "contested", "discounted"]
DATE_PRECISIONS = ["day"] * 8 + ["span", "week", "month", "year"]
LOCATION_PRECISIONS = ["exact"] * 3 + ["near"] * 2 + ["admin2", "admin1", "country"]
EDITOR = "bench-editor@example.org"


def payload(rng: random.Random, source_ids: list[int], types: list[str], number: int) -> dict[str, Any]:
    """One draft as a researcher's script would send it: real places, figures that disagree by source."""
    place, admin2, admin1, latitude, longitude = rng.choice(PLACES)
    precision = rng.choice(DATE_PRECISIONS)
    start = dt.date(2022, 12, 7) + dt.timedelta(days=rng.randrange(120))
    body: dict[str, Any] = {
        "title": f"{place}: protesters and police, report {number}",
        "narrative": "Police dispersed a march; sources disagree on the number of people hurt and held.",
        "types": rng.sample(types, rng.randint(1, 2)),
        "start_date": start.isoformat(),
        "date_precision": precision,
        "country": "PE",
        "admin1": admin1,
        "admin2": admin2 if rng.random() < 0.7 else "",
        "place_name": place,
        "location_precision": rng.choice(LOCATION_PRECISIONS),
        "verification_grade": rng.choice(GRADES),
        "status": "draft",
        "citations": [],
        "estimates": [],
    }
    if precision != "day":
        body["end_date"] = (start + dt.timedelta(days=rng.randint(1, 20))).isoformat()
    if rng.random() < 0.9:
        body["latitude"] = round(latitude + rng.uniform(-0.05, 0.05), 5)
        body["longitude"] = round(longitude + rng.uniform(-0.05, 0.05), 5)
    highs: dict[str, int] = {}
    for position in range(rng.randint(1, 3)):
        citation: dict[str, Any] = {"locator": f"p. {rng.randint(1, 80)}", "claims": []}
        if source_ids and rng.random() < 0.7:
            citation["source_id"] = rng.choice(source_ids)
        else:
            citation["source"] = {
                "title": f"Bulletin {number}-{position} of Radio {place}",
                "kind": rng.choice(SOURCE_KINDS),
            }
        for category in rng.sample(CATEGORIES, rng.randint(0, 2)):
            low = rng.choice([0, 1, 2, 3, 5, 8, 12, 40, 193])
            high = low + rng.choice([0, 0, 1, 5, 12])
            citation["claims"].append({"category": category, "low": low, "high": high})
            highs[category] = max(highs.get(category, high), high)
        body["citations"].append(citation)
    for category, high in highs.items():
        if rng.random() < 0.4:
            body["estimates"].append({"category": category, "best": high})
    return body


def changed(rng: random.Random, body: dict[str, Any], version: int) -> dict[str, Any]:
    """The same draft, corrected: a new title, one figure revised, the version it was read at."""
    body = json.loads(json.dumps(body))
    body["title"] = body["title"] + " (corrected)"
    body["version"] = version
    claims = [claim for citation in body["citations"] for claim in citation["claims"]]
    if claims:
        claim = rng.choice(claims)
        claim["high"] = claim["high"] + rng.randint(1, 10)
    else:
        body["citations"][0]["claims"].append({"category": "injured", "low": 1, "high": 3})
    body["estimates"] = []
    return body


def _empty(engine: sa.Engine) -> None:
    """Drop every table the database holds (of any version of the schema)."""
    metadata = sa.MetaData()
    metadata.reflect(engine)
    metadata.drop_all(engine)


def _advance_sequences(database_url: str) -> None:
    """The generator inserts explicit ids: move PostgreSQL's sequences past them, as an import does."""
    from incidents.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(database_url))
    with engine.begin() as connection:
        inspector = sa.inspect(connection)
        for table in inspector.get_table_names():
            if "id" not in {column["name"] for column in inspector.get_columns(table)}:
                continue
            sequence = connection.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
            if sequence:
                connection.execute(
                    sa.text(f"SELECT setval(:s, (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"),  # noqa: S608
                    {"s": sequence},
                )
    engine.dispose()


def fresh_app(database_url: str, seed: int, background: int) -> Any:
    """The app on a database emptied, then given the schema, the seed vocabulary and background generated
    incidents (bench.generate)."""
    from incidents import create_app
    from incidents.extensions import db
    from incidents.services.incident_types import seed_incident_types

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"})
    with app.app_context():
        _empty(db.engine)
        db.create_all()
        seed_incident_types()
        db.session.commit()
        db.engine.dispose()
    if background:
        generate(database_url, background, seed)
        if not database_url.startswith("sqlite"):
            _advance_sequences(database_url)
    return app


def prepare(database_url: str, seed: int, background: int) -> tuple[Any, dict[str, str]]:
    """A fresh database with the background incidents, an editor and a token: the app and the headers."""
    app = fresh_app(database_url, seed, background)
    runner = app.test_cli_runner()
    made = runner.invoke(args=["create-user", EDITOR, "--role", "editor", "--password", "bench-password-1"])
    if made.exit_code != 0:
        raise SystemExit(f"create-user failed:\n{made.output}")
    issued = runner.invoke(args=["create-token", EDITOR, "--name", "bench"])
    if issued.exit_code != 0:
        raise SystemExit(f"create-token failed:\n{issued.output}")
    return app, {"Authorization": f"Bearer {issued.output.strip().splitlines()[-1]}"}


def _timed(calls: list[Callable[[], None]], database_url: str) -> dict[str, Any]:
    """Make the calls one after the other: their rate, the time of one, the CPU they took."""
    times = []
    server_before = _postgres_cpu() if not database_url.startswith("sqlite") else None
    cpu_before = _cpu()
    began = time.perf_counter()
    for call in calls:
        one = time.perf_counter()
        call()
        times.append(time.perf_counter() - one)
    elapsed = time.perf_counter() - began
    result = {
        "saves": len(times),
        "seconds": round(elapsed, 2),
        "per_second": round(len(times) / elapsed, 1),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
        "p50_ms": round(statistics.median(times) * 1000, 2),
        "p95_ms": round(statistics.quantiles(times, n=20)[-1] * 1000, 2),
        "cpu_seconds": round(_cpu() - cpu_before, 2),
    }
    server_after = _postgres_cpu() if server_before is not None else None
    if server_before is not None and server_after is not None:
        result["server_cpu_seconds"] = round(server_after - server_before, 2)
    return result


def _request(client: Any, method: str, url: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    """One save; anything but 201 or 200 stops the run."""
    response = client.open(url, method=method, json=body, headers=headers)
    if response.status_code not in (200, 201):
        raise SystemExit(f"{method} gave {response.status_code}: {response.get_data(as_text=True)[:999]}")
    return response.get_json()


def run(database_url: str, saves: int, seed: int, background: int) -> dict[str, Any]:
    from incidents.extensions import db

    app, headers = prepare(database_url, seed, background)
    with app.app_context():
        source_ids = list(db.session.scalars(sa.text("SELECT id FROM sources ORDER BY id")))
        types = set(db.session.scalars(sa.text("SELECT slug FROM incident_types")))
    rng = random.Random(seed)
    usable = [slug for slug in TYPES if slug in types] or sorted(types)
    bodies = [payload(rng, source_ids, usable, number) for number in range(saves)]
    client = app.test_client()
    created: list[tuple[int, int, dict[str, Any]]] = []

    def create(body: dict[str, Any]) -> Callable[[], None]:
        def call() -> None:
            record = _request(client, "POST", "/api/v1/incidents", body, headers)
            created.append((record["id"], record["version"], body))

        return call

    def replace(incident_id: int, body: dict[str, Any]) -> Callable[[], None]:
        return lambda: _request(client, "PUT", f"/api/v1/incidents/{incident_id}", body, headers)

    measured: dict[str, Any] = {"create": _timed([create(body) for body in bodies], database_url)}
    edits = [(incident_id, changed(rng, body, version)) for incident_id, version, body in created]
    measured["replace"] = _timed([replace(incident_id, body) for incident_id, body in edits], database_url)
    with app.app_context():
        if sa.inspect(db.engine).has_table("audit_entries"):
            measured["audit_entries"] = db.session.scalar(sa.text("SELECT count(*) FROM audit_entries"))
        measured["incidents"] = db.session.scalar(sa.text("SELECT count(*) FROM incidents"))
    return measured


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--background", type=int, default=20_000, help="incidents in the database first")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--json", action="store_true", help="print the measures as one JSON line")
    parser.add_argument("--write-results", action="store_true", help="append to bench/results/save.md")
    args = parser.parse_args(argv)
    if args.saves < 20:
        parser.error("--saves: at least 20, for a 95th percentile")
    described = describe_machine()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        measured = run(url, args.saves, args.seed, args.background)
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    if args.json:
        print(json.dumps({"backend": backend, **measured}))
        return
    lines = [
        f"{backend}, {args.background} incidents already there, {args.saves} saves each (seed {args.seed})"
    ]
    for name, verb in (("create", "POST /api/v1/incidents"), ("replace", "PUT /api/v1/incidents/<id>")):
        part = measured[name]
        server = f", PostgreSQL server {part['server_cpu_seconds']} s" if "server_cpu_seconds" in part else ""
        lines.append(
            f"{verb}: {part['per_second']} per second; one save {part['mean_ms']} ms mean, "
            f"{part['p50_ms']} ms median, {part['p95_ms']} ms 95th percentile; CPU: this process "
            f"{part['cpu_seconds']} s{server}"
        )
    if "audit_entries" in measured:
        lines.append(f"audit entries written: {measured['audit_entries']}")
    print("\n".join(lines))
    if args.write_results:
        path = Path(__file__).resolve().parent / "results" / "save.md"
        if not path.exists():
            path.write_text("# Save benchmark\n\nSee bench/save_bench.py.\n", encoding="utf-8")
        command = (
            f"python -m bench.save_bench --saves {args.saves} --seed {args.seed} --background "
            + str(args.background)
            + (" --database-url …" if args.database_url else "")
        )
        with path.open("a", encoding="utf-8") as handle:
            handle.write(
                f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {backend}\n\n- machine: {described}\n"
                f"- command: `{command}`\n" + "".join(f"- {line}\n" for line in lines)
            )


if __name__ == "__main__":
    sys.exit(main())

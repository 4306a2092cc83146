"""Measure what the query budget and the rate limits' counts add to a public request.

    python -m bench.request_costs [--count 10000] [--requests 300] [--rounds 3] [--database-url URL]

A database (SQLite in a temporary folder, or --database-url, which must be empty or already filled by this
command) gets --count generated incidents (bench.generate). Then, in this process, through the app's WSGI
stack (Flask's test client, no network), for each variant in turn, --rounds times (variants alternated, a new
app each time, so that the machine's other load falls on all of them alike): --requests anonymous requests,
and the median and 90th percentile of one, in milliseconds, and the CPU time this process spent on one, on
average (less disturbed by the machine's other tenants than the wall time; on SQLite all of the database's
work, on PostgreSQL the app's side only).

- the list page (`/incidents/`, 50 incidents, not rate limited): with no query budget, and with the default
  budget (SQLite's progress handler; PostgreSQL's statement_timeout, set once per transaction);
- a search (`/incidents/?q=Juliaca`, rate limited, with a limit it never reaches), counted in memory
  (memory://, the cost of Flask-Limiter alone) and in the database (database://, the default: one UPSERT
  committed per request), both with the budget;
- and the parts alone, 2,000 times each, median in microseconds: a statement (SELECT 1 and its commit) with
  and without a budget (on PostgreSQL, with one, the set_config that each transaction then begins with), and
  one count in the database.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.generate import generate
from bench.machine import describe as describe_machine
from incidents import create_app, query_budget
from incidents.extensions import db, limiter
from incidents.models import Incident

NEVER_REACHED = "100000000 per minute"
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    "list, no budget": ("/incidents/", {"PUBLIC_QUERY_BUDGET": 0}),
    "list, budget 5 s": ("/incidents/", {"PUBLIC_QUERY_BUDGET": 5}),
    "search, counted in memory": ("/incidents/?q=Juliaca", {"RATELIMIT_STORAGE_URI": "memory://"}),
    "search, counted in the database": ("/incidents/?q=Juliaca", {"RATELIMIT_STORAGE_URI": "database://"}),
}


def _settings(url: str, folder: Path, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "SECRET_KEY": "bench",
        "SQLALCHEMY_DATABASE_URI": url,
        "SEARCH_RATE_LIMIT": NEVER_REACHED,
        "IMPORT_FOLDER": str(folder / "imports"),
        "TILE_URL": "",
        **extra,
    }


def _filled(url: str, folder: Path, count: int) -> None:
    app = create_app(_settings(url, folder, {}))
    with app.app_context():
        db.create_all()
        present = db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0
        db.session.remove()
        db.engine.dispose()
    if not present:
        generate(url, count)


def _timed(
    url: str, folder: Path, path: str, extra: dict[str, Any], requests: int
) -> tuple[list[float], float]:
    """The wall time of each request, in ms, and the CPU time of them all, in ms."""
    app = create_app(_settings(url, folder, extra))
    client = app.test_client()
    for _ in range(10):  # warm-up: templates compiled, connections open
        _answered(client.get(path).status_code, path)
    times = []
    cpu = time.process_time()
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        _answered(response.status_code, path)
    cpu = (time.process_time() - cpu) * 1000
    with app.app_context():
        db.engine.dispose()
    return times, cpu


def _parts(url: str, folder: Path, repeat: int) -> dict[str, float]:
    """The parts alone, median µs: a statement (SELECT 1, in a transaction of its own) with and without a
    budget, and one count in the database (web.limit_storage's UPSERT, committed)."""
    app = create_app(_settings(url, folder, {}))
    storage = limiter.storage
    medians: dict[str, float] = {}
    with app.test_request_context("/incidents/?q=x"):
        for name, seconds in (("statement, no budget", 0.0), ("statement, budget", 5.0)):
            times = []
            for _ in range(repeat):
                if seconds:
                    query_budget.start(seconds)
                started = time.perf_counter()
                db.session.execute(sa.text("SELECT 1"))
                db.session.commit()
                times.append((time.perf_counter() - started) * 1e6)
                query_budget.stop()
            medians[name] = statistics.median(times)
        times = []
        for number in range(repeat):
            started = time.perf_counter()
            storage.incr(f"bench/{number % 50}", 60)
            times.append((time.perf_counter() - started) * 1e6)
        medians["one count in the database"] = statistics.median(times)
        storage.reset()
    with app.app_context():
        db.engine.dispose()
    return medians


def _answered(status: int, path: str) -> None:
    if status != 200:
        raise SystemExit(f"{path} answered {status}: the measurement stops")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    print(describe_machine())
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        url = args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}"
        _filled(url, folder, args.count)
        times: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
        cpu = dict.fromkeys(VARIANTS, 0.0)
        for _ in range(args.rounds):
            for variant, (path, extra) in VARIANTS.items():
                measured, spent = _timed(url, folder, path, extra, args.requests)
                times[variant] += measured
                cpu[variant] += spent
        parts = _parts(url, folder, 2000)
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"{backend}, {args.count} incidents, {args.rounds} rounds of {args.requests} requests a variant")
    for variant, measured in times.items():
        deciles = statistics.quantiles(measured, n=10)
        print(
            f"{variant}: median {statistics.median(measured):.2f} ms, p90 {deciles[-1]:.2f} ms, "
            f"CPU {cpu[variant] / len(measured):.2f} ms"
        )
    for name, median in parts.items():
        print(f"{name}: median {median:.0f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

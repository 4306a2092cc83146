"""Time the map's data endpoint at 1,000,000 incidents: a world view, a country view and a city view.

    python -m bench.map_bench [--database sqlite:////tmp/incidents-map-bench.sqlite3] [--count 1000000]

Fills the database with bench.generate (seeded) when it holds fewer incidents than --count, rebuilds the
map's rollup (generated rows go in around the ORM), then asks /map/data.geojson through the Flask test
client --repeat times per view, and reports the median and 95th percentile time and the largest number of
features in an answer. Results go to bench/results/map.md (--output). No network: the app is called in
process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.generate import generate
from bench.machine import describe as describe_machine
from incidents import create_app
from incidents.config import normalise_database_url
from incidents.derived import map_cells
from incidents.extensions import db
from incidents.models import Incident

WORLD = "bbox=-180,-85,180,85&zoom=2"
PERU = "bbox=-82,-19,-68,0&zoom=5"
LIMA = "bbox=-77.2,-12.2,-76.85,-11.9&zoom=12"
VIEWS = [
    ("world, no filter", WORLD),
    ("Peru, no filter", PERU),
    ("Lima (city), no filter", LIMA),
    ("Lima (city), killings in 2010", LIMA + "&type=killing&date_from=2010-01-01&date_to=2010-12-31"),
    ("world, killings", WORLD + "&type=killing"),
    ("world, at least 30 killed", WORLD + "&min_killed=30"),
]
PAGES = [
    ("map page / (count and totals)", "/"),
    ("timeline, killings in January 2010", "/timeline?type=killing&date_from=2010-01-01&date_to=2010-01-31"),
]


def after_bulk_load(engine: sa.Engine) -> None:
    """What a database filled by bench.generate needs before it is read: the map's rollup (the generator
    writes none) and the planner's statistics."""
    began = time.perf_counter()
    with engine.begin() as connection:
        cells = map_cells.rebuild(connection)
    print(f"rebuilt the rollup ({cells:,} cells) in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE incidents")
            connection.exec_driver_sql("VACUUM ANALYZE map_cells")


def prepare(url: str, count: int, seed: int) -> int:
    engine = sa.create_engine(url)
    db.metadata.create_all(engine)
    for table in db.metadata.sorted_tables:  # indexes added since the database was made
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    with engine.connect() as connection:
        have = connection.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0
    if have < count:
        began = time.perf_counter()
        generate(url, count - have, seed)
        print(f"generated {count - have:,} incidents in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    after_bulk_load(engine)
    with engine.connect() as connection:
        total = int(connection.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0)
    engine.dispose()
    return total


def measure(client: Any, url: str, repeat: int) -> dict[str, Any]:
    client.get(url)  # warm the connection pool and the folium map, not the query
    times, features, sizes = [], 0, 0
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - began) * 1000)
        if response.status_code != 200:  # an error page's time is no measure of the map
            raise RuntimeError((url, response.status_code, response.data[:300]))
        sizes = max(sizes, len(response.data))
        if response.mimetype == "application/geo+json":
            body = response.get_json(force=True)
            features = max(features, len(body["features"]))
            aggregated = body["aggregated"]
            count = body["count"]
        else:
            aggregated, count = None, None
    times.sort()
    return {
        "median": statistics.median(times),
        "p95": times[min(len(times) - 1, round(0.95 * (len(times) - 1)))],
        "features": features,
        "bytes": sizes,
        "aggregated": aggregated,
        "count": count,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="sqlite:////tmp/incidents-map-bench.sqlite3")
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "map.md"))
    args = parser.parse_args(argv)
    url = normalise_database_url(args.database)
    machine = describe_machine()
    total = prepare(url, args.count, args.seed)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": True, "SECRET_KEY": "bench", "TILE_URL": ""})
    client = app.test_client()
    rows = []
    for name, query in VIEWS:
        result = measure(client, "/map/data.geojson?" + query, args.repeat)
        rows.append((name, "/map/data.geojson?" + query, result))
        print(name, result, file=sys.stderr)
    for name, path in PAGES:
        result = measure(client, path, max(3, args.repeat // 10))
        rows.append((name, path, result))
        print(name, result, file=sys.stderr)
    command = "python -m bench.map_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        f"# Map data endpoint at {total:,} incidents ({sa.make_url(url).get_backend_name()})",
        "",
        f"Command: `{command.strip()}` · date: {dt.date.today().isoformat()} · machine: {machine}.",
        f"Database: `{sa.make_url(url).render_as_string(hide_password=True)}`, filled by `bench.generate` "
        f"(seed {args.seed}; its incidents lie around twelve places in Peru, 90 % published), the map's "
        "rollup rebuilt after the bulk load. Each request through the Flask test client (no network), "
        f"{args.repeat} times per view after one warm-up (pages: {max(3, args.repeat // 10)} times).",
        "",
        "| view | median ms | p95 ms | features (max) | aggregated | incidents in view | response bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, path, r in rows:
        aggregated = "" if r["aggregated"] is None else ("yes" if r["aggregated"] else "no")
        count = "" if r["count"] is None else f"{r['count']:,}"
        lines.append(
            f"| {name} (`{path}`) | {r['median']:.1f} | {r['p95']:.1f} | {r['features']:,} | {aggregated} "
            f"| {count} | {r['bytes']:,} |"
        )
    lines.append("")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    existing = output.read_text() if output.exists() else ""
    output.write_text("\n".join(lines) + "\n" + ("\n" + existing if existing else ""))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

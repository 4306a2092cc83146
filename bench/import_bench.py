"""Measure importing UCDP-format rows: rows per second and peak memory.

    python -m bench.import_bench [--rows 100000] [--seed 1] [--database-url URL] [--stages] [--floor]
                                 [--write-results]

Generates the rows (seeded: the same file every time) into a temporary CSV with an HXL row, then runs
`flask --app incidents import FILE` (the CLI's own code path, progress bar included) in a fresh process on a
fresh SQLite database (or --database-url, emptied first). Peak memory is that process's resident set
high-water mark (getrusage ru_maxrss): Python, the app, the gazetteer index when geocoding is needed, and
everything the import holds; the file is streamed, not read whole.

--stages times the import's stages (reading, geocoding, validation, writing, duplicates …) with timers around
the pipeline's own methods, and reports microseconds per row for each (the timers cost a little themselves).

Every run also reports the CPU time the import used: the importing process's, and on PostgreSQL the server's
(every PostgreSQL process on this machine, read from /proc: run it when nothing else uses the server). CPU
seconds a row times the rows, divided by the machine's CPUs, is a floor on the time no split of the work
between processes or threads can go under.

--floor then measures the database's own share: the rows the import wrote (every table) are read back and
inserted again into an emptied schema by the driver alone (executemany on SQLite, binary COPY on
PostgreSQL), in batches of the import's size, without any of the importer's Python. What that takes per row
is a floor no importer writing these tables through this driver can go under: 1,000,000 µs divided by it is
a ceiling on rows per second.
"""

from __future__ import annotations

import argparse
import collections
import csv
import datetime as dt
import functools
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.machine import describe as describe_machine

# The columns of the UCDP GED CSV, in its order.
HEADER = [
    "id",
    "year",
    "active_year",
    "start_year",
    "end_year",
    "type_of_violence",
    "conflict_new_id",
    "conflict_name",
    "dyad_new_id",
    "dyad_name",
    "side_a_new_id",
    "gwnoa",
    "side_a",
    "side_b_new_id",
    "gwnob",
    "side_b",
    "number_of_sources",
    "source_article",
    "source_office",
    "source_date",
    "source_headline",
    "source_original",
    "where_prec",
    "where_coordinates",
    "adm_1",
    "adm_2",
    "latitude",
    "longitude",
    "geom_wkt",
    "priogrid_gid",
    "country",
    "country_id",
    "iso3",
    "region",
    "event_clarity",
    "date_prec",
    "date_start",
    "date_end",
    "deaths_a",
    "deaths_b",
    "deaths_civilians",
    "deaths_unknown",
    "low",
    "best",
    "high",
]
HXL = {
    "year": "#date+year",
    "side_a": "#group+name+first",
    "side_b": "#group+name+second",
    "source_article": "#meta+source",
    "source_headline": "#description",
    "where_coordinates": "#loc+name",
    "adm_1": "#adm1+name",
    "adm_2": "#adm2+name",
    "latitude": "#geo+lat",
    "longitude": "#geo+lon",
    "country": "#country+name",
    "iso3": "#country+code",
    "date_start": "#date+start",
    "date_end": "#date+end",
    "best": "#affected+killed",
}
# (place, adm_1, adm_2, latitude, longitude): Bangladeshi towns, as in the real GED sample.
PLACES = [
    ("Dhaka city", "Dhaka Division", "Dhaka District", 23.723056, 90.408611),
    ("Chittagong city", "Chittagong Division", "Chittagong District", 22.3384, 91.83168),
    ("Rangamati town", "Chittagong Division", "Rangamati District", 22.643168, 92.191859),
    ("Khagrachari town", "Chittagong Division", "Khagrachari District", 23.11928, 91.98463),
    ("Bandarban town", "Chittagong Division", "Bandarban District", 22.19534, 92.21946),
    ("Cox's Bazar town", "Chittagong Division", "Cox's Bazar District", 21.45388, 91.96765),
    ("Sylhet city", "Sylhet Division", "Sylhet District", 24.89904, 91.87198),
    ("Rajshahi city", "Rajshahi Division", "Rajshahi District", 24.374, 88.60114),
    ("Bogra town", "Rajshahi Division", "Bogra District", 24.85098, 89.37108),
    ("Khulna city", "Khulna Division", "Khulna District", 22.80979, 89.56439),
    ("Jessore town", "Khulna Division", "Jessore District", 23.16971, 89.21371),
    ("Barisal city", "Barisal Division", "Barisal District", 22.70497, 90.37013),
    ("Bhandaria town", "Barisal Division", "Pirojpur District", 22.488976, 90.062732),
    ("Mymensingh town", "Mymensingh Division", "Mymensingh District", 24.75636, 90.40646),
    ("Rangpur city", "Rangpur Division", "Rangpur District", 25.74664, 89.25166),
    ("Dinajpur town", "Rangpur Division", "Dinajpur District", 25.62745, 88.63779),
    ("Comilla town", "Chittagong Division", "Comilla District", 23.46186, 91.18503),
    ("Narayanganj city", "Dhaka Division", "Narayanganj District", 23.61352, 90.50298),
    ("Gazipur town", "Dhaka Division", "Gazipur District", 23.99909, 90.42025),
    ("Pabna town", "Rajshahi Division", "Pabna District", 24.00644, 89.2372),
]
SIDES = [
    (1, "Government of Bangladesh", "JSS/SB"),
    (2, "Supporters of Awami League", "Supporters of BNP"),
    (3, "JSS/SB", "Civilians"),
    (3, "Government of Bangladesh", "Civilians"),
    (2, "JMB", "Supporters of Awami League"),
]
OFFICES = ["Reuters", "Agence France Presse", "BBC Monitoring South Asia", "The Daily Star", "Xinhua"]
WHERE_PREC = [1] * 264 + [2] * 146 + [3] * 123 + [4] * 45 + [5] * 5 + [6] * 15 + [7] * 3
DATE_PREC = [1] * 576 + [2] * 10 + [3] * 4 + [4] * 6 + [5] * 5


def generate(path: Path, count: int, seed: int) -> None:
    """count GED-shaped events, seeded, streamed to a CSV with an HXL second row."""
    rng = random.Random(seed)
    articles = []
    for number in range(max(100, count // 20)):
        office = rng.choice(OFFICES)
        day = dt.date(1989, 1, 1) + dt.timedelta(days=rng.randrange(11000))
        headline = f"Clashes leave dead in Bangladesh (report {number})"
        text = f'{office} ({day.isoformat()}): "{headline.upper()}"'
        if rng.random() < 0.05:  # some fields span lines, as in the real data
            text += f'\n{rng.choice(OFFICES)} ({day.isoformat()}): "FOLLOW-UP {number}"'
        articles.append((text, office, day.isoformat(), headline))
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerow([HXL.get(name, "") for name in HEADER])
        for number in range(count):
            violence, side_a, side_b = rng.choice(SIDES)
            place, adm1, adm2, lat, lon = rng.choice(PLACES)
            where = rng.choice(WHERE_PREC)
            date_prec = rng.choice(DATE_PREC)
            start = dt.date(1989, 1, 1) + dt.timedelta(days=rng.randrange(11000))
            end = start + dt.timedelta(days={1: 0, 2: 2, 3: 6, 4: 29, 5: 200}[date_prec])
            if where >= 5:
                place, adm1, adm2, lat, lon = "Bangladesh", "", "", 23.7, 90.35
            elif where == 4:
                adm2 = ""
            elif rng.random() < 0.03:
                adm1 = adm2 = ""  # a point without admin regions: reverse geocoded
            # Spread around the town (as events are, over a district), so that possible duplicates are about
            # as frequent as in the real sample (41 pairs in 601 events), not one every other row.
            lat += rng.uniform(-0.3, 0.3)
            lon += rng.uniform(-0.3, 0.3)
            deaths = [rng.choice([0, 0, 0, 1, 2, 5]) for _ in range(4)]
            best = sum(deaths)
            low, high = max(0, best - rng.choice([0, 0, 1])), best + rng.choice([0, 0, 2])
            cited = rng.random() < 0.95  # a few events without any source, as in the real data
            article, office, source_date, headline = rng.choice(articles) if cited else ("", "", "", "")
            row = {
                "id": str(1_000_000 + number),
                "year": str(start.year),
                "type_of_violence": str(violence),
                "conflict_name": f"{side_a} - {side_b}",
                "dyad_name": f"{side_a} - {side_b}",
                "side_a": side_a,
                "side_b": side_b,
                "number_of_sources": str(rng.choice([-1, 1, 1, 2, 3])),
                "source_article": article,
                "source_office": office,
                "source_date": source_date,
                "source_headline": headline,
                "where_prec": str(where),
                "where_coordinates": place,
                "adm_1": adm1,
                "adm_2": adm2,
                "latitude": f"{lat:.6f}",
                "longitude": f"{lon:.6f}",
                "geom_wkt": f"POINT ({lon:.6f} {lat:.6f})",
                "country": "Bangladesh",
                "country_id": "771",
                "iso3": "BGD",
                "region": "Asia",
                "event_clarity": str(rng.choice([1, 1, 1, 2])),
                "date_prec": str(date_prec),
                "date_start": start.isoformat(),
                "date_end": end.isoformat(),
                "deaths_a": str(deaths[0]),
                "deaths_b": str(deaths[1]),
                "deaths_civilians": str(deaths[2]),
                "deaths_unknown": str(deaths[3]),
                "low": str(low),
                "best": str(best),
                "high": str(high),
            }
            writer.writerow([row.get(name, "") for name in HEADER])


def run_import(
    csv_path: Path, database_url: str, *, stages: bool = False, floor: bool = False
) -> dict[str, Any]:
    """In this (fresh) process: build the schema, run the import command, measure."""
    import resource

    from incidents import create_app
    from incidents.extensions import db
    from incidents.services.incident_types import seed_incident_types

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_incident_types()
        db.session.commit()
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    timers = _stage_timers() if stages else None
    runner = app.test_cli_runner()
    server_before = _postgres_cpu() if not database_url.startswith("sqlite") else None
    cpu_before = _cpu()
    began = time.perf_counter()
    result = runner.invoke(args=["import", str(csv_path)])
    elapsed = time.perf_counter() - began
    cpu = _cpu() - cpu_before
    server_after = _postgres_cpu() if server_before is not None else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if result.exit_code != 0:
        raise SystemExit(f"the import failed:\n{result.output[-3000:]}")
    summary = [line for line in result.output.splitlines() if not line.startswith(("row ", "Reading"))]
    measured: dict[str, Any] = {
        "seconds": round(elapsed, 2),
        "baseline_rss_mib": round(baseline / 1024, 1),
        "peak_rss_mib": round(peak / 1024, 1),
        "summary": " ".join(summary),
        "cpu_seconds": round(cpu, 2),
    }
    if server_before is not None and server_after is not None:
        measured["server_cpu_seconds"] = round(server_after - server_before, 2)
    if timers is not None:
        measured["stages"] = {name: round(seconds, 3) for name, seconds in timers.items()}
    if floor:
        with app.app_context():
            measured["floor"] = _database_floor(db.engine)
    return measured


def _cpu() -> float:
    """CPU seconds this process has used (user and system, every thread)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _postgres_cpu() -> float | None:
    """CPU seconds used by the PostgreSQL server's processes on this machine, those ended included (counted
    in the postmaster's children's time); None where they cannot be read (a server elsewhere, no /proc)."""
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found = True
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks if found else None


# The pipeline's methods timed by --stages, with their labels; an indented label is part of the one above.
_STAGES = [
    ("incidents.importing.formats.base:CsvRecordReader.records", "reading the file (rows to records)"),
    ("incidents.services.imports.importer:Importer._check", "checking rows"),
    ("incidents.importing.geocoding:GeocodingStep.apply", "  geocoding"),
    ("incidents.importing.validation:RecordValidator.load", "  validation"),
    ("incidents.services.imports.bulk_writer:BulkWriter.write", "writing"),
    ("incidents.services.imports.bulk_writer:BulkWriter._record", "  building stored records"),
    ("incidents.services.imports.inserts:RowInserter.insert", "  inserts (driver and database)"),
    ("incidents.services.imports.importer:Importer._remember", "keeping footprints"),
    ("incidents.services.imports.bulk_writer:BulkWriter.finish", "map rollup"),
    ("incidents.services.imports.importer:batch_matches", "finding possible duplicates"),
    ("incidents.domain.duplicates:geodesic_km", "  geodesic distances"),
    ("incidents.services.imports.importer:Importer._flag_duplicates", "flagging them, and their warnings"),
]


def _stage_timers() -> collections.Counter[str]:
    """Wrap the pipeline's methods in timers; seconds spent in each, by label (a generator's time is spent
    in its next() calls, which are timed one by one)."""
    import importlib
    import inspect

    spent: collections.Counter[str] = collections.Counter()
    for target, label in _STAGES:
        module_name, _, path = target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, name)

        if inspect.isgeneratorfunction(original):

            def timed(*args: Any, _f: Any = original, _label: str = label, **kwargs: Any) -> Any:
                items = _f(*args, **kwargs)
                while True:
                    began = time.perf_counter()
                    try:
                        item = next(items)
                    except StopIteration:
                        spent[_label] += time.perf_counter() - began
                        return
                    spent[_label] += time.perf_counter() - began
                    yield item

        else:

            def timed(*args: Any, _f: Any = original, _label: str = label, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return _f(*args, **kwargs)
                finally:
                    spent[_label] += time.perf_counter() - began

        setattr(owner, name, functools.wraps(original)(timed))
    return spent


# The tables an import writes, parents first.
_WRITTEN = [
    "sources",
    "incidents",
    "incident_type_links",
    "citations",
    "casualty_claims",
    "casualty_estimates",
    "incident_records",
]


def _database_floor(engine: Any) -> dict[str, Any]:
    """The database's own time per imported row (see the module's docstring), per table and in all."""
    tables, types = _read_written(engine)
    count = len(tables["incidents"][1])
    batches = _in_import_batches(tables)
    _empty_written(engine)
    spent = _write_again(engine, tables, types, batches)
    total = sum(spent.values())
    return {
        "incidents": count,
        "per_row_us": {name: round(seconds / count * 1e6, 1) for name, seconds in spent.items()},
        "total_us": round(total / count * 1e6, 1),
        "ceiling_rows_per_s": round(count / total),
    }


# A table as read: its columns' names, and its rows.
_Table = tuple[list[str], list[tuple[Any, ...]]]


def _read_written(engine: Any) -> tuple[dict[str, _Table], dict[str, dict[str, int]]]:
    """Every table the import wrote, in id order; on PostgreSQL, each column's type too (for a binary COPY
    as the importer's)."""
    import sqlalchemy as sa

    from incidents.services.imports.inserts import column_types

    with engine.connect() as connection:
        tables = {}
        types = {}
        for name in _WRITTEN:
            if engine.dialect.name == "postgresql":
                types[name] = column_types(connection, name)
            result = connection.execute(sa.text(f"SELECT * FROM {name} ORDER BY 1"))  # noqa: S608 - ours
            tables[name] = (list(result.keys()), [tuple(row) for row in result])
    return tables, types


def _in_import_batches(tables: dict[str, _Table]) -> dict[str, list[list[tuple[Any, ...]]]]:
    """Each table's rows in the batch of their incident, as the import wrote them (sources all first: they
    are few)."""
    incident_ids = [row[0] for row in tables["incidents"][1]]
    batch_of = {incident_id: i // 1000 for i, incident_id in enumerate(incident_ids)}
    citation_column = tables["citations"][0].index("incident_id")
    batch_of_citation = {row[0]: batch_of[row[citation_column]] for row in tables["citations"][1]}
    batches: dict[str, list[list[tuple[Any, ...]]]] = {}
    for name, (columns, rows) in tables.items():
        parts: list[list[tuple[Any, ...]]] = [[] for _ in range(len(incident_ids) // 1000 + 1)]
        if name == "sources":
            parts[0] = rows
        elif name == "incidents":
            for row in rows:
                parts[batch_of[row[0]]].append(row)
        elif name == "casualty_claims":
            column = columns.index("citation_id")
            for row in rows:
                parts[batch_of_citation[row[column]]].append(row)
        else:
            column = columns.index("incident_id")
            for row in rows:
                parts[batch_of[row[column]]].append(row)
        batches[name] = parts
    return batches


def _empty_written(engine: Any) -> None:
    """An empty schema, as the import found it (the incident types stay: an import does not write them)."""
    import sqlalchemy as sa

    with engine.begin() as connection:
        for name in reversed(_WRITTEN):
            connection.execute(sa.text(f"DELETE FROM {name}"))  # noqa: S608 - our own names


def _write_again(
    engine: Any,
    tables: dict[str, _Table],
    types: dict[str, dict[str, int]],
    batches: dict[str, list[list[tuple[Any, ...]]]],
) -> collections.Counter[str]:
    """Insert the rows again, batch by batch, by the driver alone: the seconds each table took, and the
    commit."""
    spent: collections.Counter[str] = collections.Counter()
    raw = engine.raw_connection()  # with the pool's settings (on SQLite: foreign keys checked, WAL)
    try:
        driver = raw.driver_connection
        for batch in range(len(batches["incidents"])):
            for name in _WRITTEN:
                part = batches[name][batch]
                if not part:
                    continue
                began = time.perf_counter()
                _insert(driver, engine.dialect.name, name, tables[name][0], types.get(name, {}), part)
                spent[name] += time.perf_counter() - began
        began = time.perf_counter()
        driver.commit()
        spent["commit"] += time.perf_counter() - began
    finally:
        raw.close()
    return spent


def _insert(
    driver: Any,
    dialect: str,
    name: str,
    columns: list[str],
    types: dict[str, int],
    part: list[tuple[Any, ...]],
) -> None:
    """One batch of a table's rows: executemany on SQLite, binary COPY on PostgreSQL (with the columns'
    types)."""
    if dialect == "sqlite":
        statement = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - our tables, quoted
            name, ", ".join(f'"{c}"' for c in columns), ", ".join("?" * len(columns))
        )
        driver.executemany(statement, part)
        return
    quoted = ", ".join(f'"{c}"' for c in columns)  # "group" is a reserved word
    statement = f"COPY {name} ({quoted}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([types[column] for column in columns])
        for row in part:
            copy.write_row(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    parser.add_argument("--stages", action="store_true", help="time each stage of the import (µs per row)")
    parser.add_argument(
        "--floor", action="store_true", help="then time the database alone inserting the rows written"
    )
    parser.add_argument("--write-results", action="store_true", help="write bench/results/import.md")
    parser.add_argument("--child", nargs=2, metavar=("CSV", "URL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        measured = run_import(Path(args.child[0]), args.child[1], stages=args.stages, floor=args.floor)
        print(json.dumps(measured))
        return
    described = describe_machine()  # before the run, so that the load average is the one it met
    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "ucdp.csv"
        began = time.perf_counter()
        generate(csv_path, args.rows, args.seed)
        print(
            f"generated {args.rows} rows ({csv_path.stat().st_size / 1e6:.1f} MB) in "
            f"{time.perf_counter() - began:.1f} s",
            file=sys.stderr,
        )
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        child = subprocess.run(
            [sys.executable, "-m", "bench.import_bench", "--child", str(csv_path), url]
            + ["--stages"] * args.stages
            + ["--floor"] * args.floor,
            check=True,
            capture_output=True,
            text=True,
        )
        measured = json.loads(child.stdout.strip().splitlines()[-1])
    rate = args.rows / measured["seconds"]
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    lines = [
        f"rows: {args.rows} (seed {args.seed}), {backend}",
        f"time: {measured['seconds']} s, {rate:,.0f} rows per second (target 10,000)",
        f"peak memory (RSS high-water of the importing process): {measured['peak_rss_mib']} MiB "
        f"(target < 300 MiB; {measured['baseline_rss_mib']} MiB before the import began)",
        f"import said: {measured['summary']}",
        *_details(measured, args.rows),
    ]
    print("\n".join(lines))
    if args.write_results:
        _write_results(args, backend, rate, measured, described)


def _details(measured: dict[str, Any], rows: int) -> list[str]:
    """The CPU's, the stages' and the floor's lines, when measured."""
    import os

    lines = []
    if "cpu_seconds" in measured:
        cpu, server = measured["cpu_seconds"], measured.get("server_cpu_seconds")
        total = cpu + (server or 0)
        cpus = os.cpu_count() or 1
        lines.append(
            f"CPU: the importing process {cpu} s ({cpu / rows * 1e6:,.0f} µs a row)"
            + (f", the PostgreSQL server {server} s ({server / rows * 1e6:,.0f} µs a row)" if server else "")
            + f": {total / rows * 1e6:,.0f} µs of CPU a row, so at most {rows / (total / cpus):,.0f} rows "
            f"per second on {cpus} CPUs even with the work split perfectly between them"
        )
    if "stages" in measured:
        lines.append("stages (µs per row; an indented stage is part of the one above):")
        spent = measured["stages"]
        lines += [f"    {label}: {spent[label] / rows * 1e6:,.1f}" for _, label in _STAGES if label in spent]
    if "floor" in measured:
        floor = measured["floor"]
        lines.append(
            f"database floor: {floor['total_us']} µs per row, the driver and the database alone inserting "
            f"the {floor['incidents']} incidents' rows again: at most {floor['ceiling_rows_per_s']:,} rows "
            "per second for any importer writing these tables"
        )
        lines += [f"    {name}: {us}" for name, us in floor["per_row_us"].items()]
    return lines


def _write_results(
    args: argparse.Namespace, backend: str, rate: float, measured: dict[str, object], described: str
) -> None:
    path = Path(__file__).resolve().parent / "results" / "import.md"
    command = "python -m bench.import_bench --rows {} --seed {}{}{}{}".format(
        args.rows,
        args.seed,
        " --database-url …" if args.database_url else "",
        " --stages" if args.stages else "",
        " --floor" if args.floor else "",
    )
    entry = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {backend}\n\n"
        f"- machine: {described}\n"
        f"- command: `{command}`\n"
        f"- rows: {args.rows} UCDP GED rows (generated, seed {args.seed}), `flask --app incidents import`\n"
        f"- time: {measured['seconds']} s: **{rate:,.0f} rows per second** (target: at least 10,000)\n"
        f"- peak memory: **{measured['peak_rss_mib']} MiB** RSS high-water of the importing process "
        f"(target: under 300 MiB); {measured['baseline_rss_mib']} MiB before the import began\n"
        f"- the import said: {measured['summary']}\n"
    )
    details = _details(measured, args.rows)
    if details:
        # Indented by four spaces: one level down; by six: two.
        entry += "".join(
            f"{'  ' * ((len(line) - len(line.lstrip())) // 2 - 1)}- {line.strip()}\n" for line in details
        )
    if not path.exists():
        path.write_text(
            "# Import benchmark\n\nImporting UCDP GED rows with `flask --app incidents import` (see "
            "bench/import_bench.py). Peak memory is the resident set high-water mark (`ru_maxrss`) of the "
            "process that runs the import: interpreter, app, gazetteer index, and what the import holds.\n",
            encoding="utf-8",
        )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(entry)


if __name__ == "__main__":
    main()

"""Measure exporting N incidents in each format through the CLI's code path, to /dev/null.

    python -m bench.export_bench --count 1000000 [--database URL] [--formats json,csv]

Fills the database with bench.generate when it holds fewer than N incidents, then runs each format in a
fresh process (so that one format's memory does not count against the next) as
`flask --app incidents export --format F [--include-drafts] -o /dev/null` would, for the public (published
only) and the staff audience (--include-drafts: every status, staff fields), and reports incidents per
second and peak memory: the process's resident-set high-water mark (ru_maxrss, includes the interpreter and
libraries) and, in a second run, the Python heap peak (tracemalloc, which slows the run, so not timed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import sqlalchemy as sa

from bench.generate import generate
from bench.machine import describe as describe_machine

_CHILD = """
import json, resource, sys, time, tracemalloc
from incidents import create_app
from incidents.exports.build import make_export
from incidents.exports.formats import WRITERS
url, fmt, trace, staff = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "staff"
app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with app.app_context(), open("/dev/null", "wb") as sink:
    export = make_export({}, staff=staff, fmt=fmt, base_url="https://example.org/")
    count = export.stored.count()
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    written = 0
    for chunk in WRITERS[fmt](export):
        sink.write(chunk)
        written += len(chunk)
    elapsed = time.perf_counter() - began
    heap = tracemalloc.get_traced_memory()[1] if trace else None
print(json.dumps({"count": count, "seconds": elapsed, "bytes": written, "heap_peak": heap,
                  "rss_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "rss_before_kib": baseline}))
"""


def _run(url: str, fmt: str, trace: bool, audience: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, fmt, "1" if trace else "0", audience],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database", default="sqlite:////tmp/incidents-bench.sqlite3")
    parser.add_argument("--formats", default="json,geojson,csv")
    parser.add_argument(
        "--audiences", default="public,staff", help="public (published only) and/or staff (--include-drafts)"
    )
    parser.add_argument("--no-tracemalloc", action="store_true", help="Skip the (slow) Python-heap runs")
    args = parser.parse_args(argv)
    engine = sa.create_engine(args.database)
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        have = (
            connection.scalar(sa.text("SELECT count(*) FROM incidents"))
            if inspector.has_table("incidents")
            else 0
        )
    engine.dispose()
    if have < args.count:
        began = time.perf_counter()
        generate(args.database, args.count - int(have or 0), seed=1)
        print(f"generated {args.count - int(have or 0)} incidents in {time.perf_counter() - began:.0f} s")
    print(f"machine: {describe_machine()}")
    print(
        "| format | audience | incidents | seconds | incidents/s | MB written | peak RSS (MB) "
        "| peak Python heap (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for fmt in args.formats.split(","):
        for audience in args.audiences.split(","):
            _report(args, fmt, audience)


def _report(args: argparse.Namespace, fmt: str, audience: str) -> None:
    timed = _run(args.database, fmt, trace=False, audience=audience)
    heap = (
        None if args.no_tracemalloc else _run(args.database, fmt, trace=True, audience=audience)["heap_peak"]
    )
    rate = timed["count"] / timed["seconds"]
    heap_text = "-" if heap is None else f"{heap / 1e6:.0f}"
    print(
        f"| {fmt} | {audience} | {timed['count']:,} | {timed['seconds']:.1f} | {rate:,.0f} | "
        f"{timed['bytes'] / 1e6:,.0f} | {timed['rss_peak_kib'] / 1024:.0f} | {heap_text} |",
        flush=True,
    )


if __name__ == "__main__":
    main()

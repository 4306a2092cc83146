"""A mixed load against a running server: public reads and API saves at once, for a fixed time.

    python -m bench.mixed_load --prepare 100000 --database-url URL [--seed 1]
    python -m bench.mixed_load --wrk-script pages.lua --database-url URL [--seed 1]
    python -m bench.mixed_load --url http://127.0.0.1:8000 --token inc_… --database-url URL
                               [--duration 60] [--connections 32] [--writes 0.2] [--revalidate 0]
                               [--server-pid PID] [--seed 1] [--write-results]

--prepare N empties the database at --database-url, fills it with N generated incidents (bench.generate, as
bench.save_bench does: 90 % published) and makes an editor and an API token with the app's own commands; it
prints the token. --wrk-script writes a script for `wrk -s` asking for the incident pages this load asks for
(the public page alone: README, Speed). Then start gunicorn on that database (bench/README.md says how) and
run the load: --connections keep-alive connections, each sending its next request as soon as the last is
answered, for --duration seconds. Of the requests, --writes are API saves (`POST /api/v1/incidents`, the
body of bench.api_writers, a draft with a new source and a claim); the others are public reads: the page of
a published incident drawn at random (of 20,000 drawn from the database with the seed), and a few list, map
and timeline reads (READS below). --revalidate of the incident pages are asked again with the ETag an
earlier answer gave (If-None-Match), as a browser or a proxy does.

Printed, and with --write-results appended to bench/results/mixed_load.md: requests per second, the
median and 99th percentile of each kind, the count of each status, and errors (any 5xx, or a connection
that failed). With --server-pid (gunicorn's master), the server's CPU per request, read from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import random
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench.api_writers import incident_body
from bench.machine import describe as describe_machine

# The public reads besides incident pages, and their share of all reads (the rest are incident pages).
READS = {
    "list": ("/incidents/?page={page}", 0.03),
    "map": ("/map/data.geojson?bbox=-82,-19,-68,0&zoom=5", 0.01),
    "timeline": ("/timeline?date_from={year}-01-01&date_to={year}-01-31", 0.01),
}
SAMPLE = 20_000


@dataclass
class Tally:
    """What one kind of request was answered: statuses, seconds each took, failures."""

    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    seconds: list[float] = field(default_factory=list)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000 if ordered else 0.0


def published_ids(database_url: str, seed: int) -> list[str]:
    """Public ids of up to SAMPLE published incidents, drawn with the seed."""
    from incidents.config import normalise_database_url

    engine = sa.create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as connection:
            top = connection.scalar(sa.text("SELECT max(id) FROM incidents")) or 0
            drawn = sorted(random.Random(seed).sample(range(1, top + 1), min(top, SAMPLE)))
            found: list[str] = []
            for start in range(0, len(drawn), 500):
                found += connection.scalars(
                    sa.text(
                        "SELECT public_id FROM incidents WHERE status = 'published' AND id IN :ids"
                    ).bindparams(sa.bindparam("ids", expanding=True)),
                    {"ids": drawn[start : start + 500]},
                )
    finally:
        engine.dispose()
    if not found:
        raise SystemExit("no published incident in that database: run --prepare first")
    return found


def wrk_script(public_ids: list[str]) -> str:
    """A wrk script (`wrk -s PATH URL`) asking for these incident pages, each connection in its own order."""
    quoted = ",".join(f'"{public_id}"' for public_id in public_ids)
    return (
        f"local ids = {{{quoted}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        '  return wrk.format("GET", "/incidents/" .. ids[(n * 7919) % #ids + 1])\n'
        "end\n"
    )


class Load:
    """The requests of one run, drawn with the seed, and what they were answered."""

    def __init__(self, options: argparse.Namespace, public_ids: list[str]) -> None:
        parts = urlsplit(options.url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.tls = parts.scheme == "https"
        self.options = options
        self.public_ids = public_ids
        self.etags: dict[str, str] = {}
        self.tallies: dict[str, Tally] = collections.defaultdict(Tally)
        self.saves = 0

    def request(self, rng: random.Random) -> tuple[str, bytes]:
        """The next request: its kind and its bytes."""
        if rng.random() < self.options.writes:
            self.saves += 1
            body = json.dumps(incident_body(self.saves)).encode()
            head = (
                f"POST /api/v1/incidents HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Authorization: Bearer {self.options.token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            return "save", head.encode() + body
        draw = rng.random()
        for kind, (path, share) in READS.items():
            if draw < share:
                target = path.format(page=rng.randint(1, 50), year=rng.randint(2000, 2024))
                return kind, self._get(target)
            draw -= share
        if self.etags and rng.random() < self.options.revalidate:
            public_id = rng.choice(list(self.etags))
            return "page (revalidated)", self._get(f"/incidents/{public_id}", self.etags[public_id])
        return "page", self._get(f"/incidents/{rng.choice(self.public_ids)}")

    def _get(self, target: str, etag: str | None = None) -> bytes:
        conditional = f"If-None-Match: {etag}\r\n" if etag else ""
        return f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n{conditional}\r\n".encode()

    async def connection(self, number: int, until: float) -> None:
        """One keep-alive connection sending requests one after the other until the time is up."""
        rng = random.Random(f"{self.options.seed} connection {number}")
        streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while time.monotonic() < until:
            kind, request = self.request(rng)
            tally = self.tallies[kind]
            started = time.monotonic()
            try:
                if streams is None:
                    streams = await asyncio.open_connection(self.host, self.port, ssl=self.tls or None)
                status, headers = await _exchange(*streams, request)
            except (OSError, asyncio.IncompleteReadError, ValueError) as failed:
                tally.failures[type(failed).__name__] += 1
                streams = _close(streams)
                continue
            tally.seconds.append(time.monotonic() - started)
            tally.statuses[status] += 1
            if kind == "page" and status == 200 and "etag" in headers:
                self.etags[request.split(b" ", 2)[1].decode().rsplit("/", 1)[1]] = headers["etag"]
            if headers.get("connection", "").lower() == "close":
                streams = _close(streams)
        _close(streams)


def _close(streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if streams is not None:
        streams[1].close()
    return None


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, dict[str, str]]:
    """Send one request and read its whole answer: the status and the headers (names in lower case)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")
    return status, headers


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of the server's master and its workers (theirs, and their ended children's)."""
    if pid is None:
        return None
    total = 0
    for process in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def run(options: argparse.Namespace) -> list[str]:
    """The load, for options.duration seconds after 5 s of warm-up; the report's lines."""
    load = Load(options, published_ids(options.database_url, options.seed))

    async def everyone(seconds: float) -> None:
        until = time.monotonic() + seconds
        await asyncio.gather(*(load.connection(n, until) for n in range(options.connections)))

    asyncio.run(everyone(5))
    load.tallies.clear()
    cpu_before = _server_cpu(options.server_pid)
    started = time.monotonic()
    asyncio.run(everyone(options.duration))
    took = time.monotonic() - started
    cpu_after = _server_cpu(options.server_pid)
    return report(load.tallies, took, cpu_before, cpu_after)


def report(
    tallies: dict[str, Tally], took: float, cpu_before: float | None, cpu_after: float | None
) -> list[str]:
    answered = sum(len(t.seconds) for t in tallies.values())
    errors = sum(
        sum(n for status, n in t.statuses.items() if status >= 500) + sum(t.failures.values())
        for t in tallies.values()
    )
    lines = [f"{answered / took:.0f} requests/s ({answered} in {took:.1f} s); errors (5xx, failed): {errors}"]
    if cpu_before is not None and cpu_after is not None and answered:
        lines.append(f"server CPU: {(cpu_after - cpu_before) / answered * 1000:.2f} ms per request")
    lines += ["", "| kind | requests | /s | p50 ms | p99 ms | statuses | failed |"]
    lines.append("|---|---|---|---|---|---|---|")
    for kind, tally in sorted(tallies.items(), key=lambda item: -len(item[1].seconds)):
        statuses = ", ".join(f"{status}: {n}" for status, n in sorted(tally.statuses.items()))
        failed = ", ".join(f"{name}: {n}" for name, n in tally.failures.items()) or "0"
        count = len(tally.seconds)
        lines.append(
            f"| {kind} | {count} | {count / took:.1f} | {tally.percentile(0.5):.0f} "
            f"| {tally.percentile(0.99):.0f} | {statuses} | {failed} |"
        )
    every = Tally(seconds=[s for t in tallies.values() for s in t.seconds])
    lines.append(
        f"| all | {answered} | {answered / took:.1f} | {every.percentile(0.5):.0f} | "
        f"{every.percentile(0.99):.0f} | | {errors} |"
    )
    return lines


def _prepare(options: argparse.Namespace) -> None:
    from bench.map_bench import after_bulk_load
    from bench.save_bench import prepare
    from incidents.config import normalise_database_url

    _app, headers = prepare(options.database_url, options.seed, options.prepare)
    engine = sa.create_engine(normalise_database_url(options.database_url))
    after_bulk_load(engine)
    engine.dispose()
    print(headers["Authorization"].removeprefix("Bearer "))


def _shown(argument: str) -> str:
    """A command-line argument as the results file shows it: no token, no database password."""
    if argument.startswith("inc_"):
        return "inc_…"
    if argument.startswith("postgresql"):
        return sa.make_url(argument).render_as_string(hide_password=True)
    return argument


def _load() -> str:
    return f"load average {os.getloadavg()[0]:.1f}"


def _write_results(options: argparse.Namespace, described: str, lines: list[str]) -> None:
    path = Path(__file__).resolve().parent / "results" / "mixed_load.md"
    if not path.exists():
        path.write_text("# Mixed load\n\nSee bench/mixed_load.py and bench/README.md.\n", encoding="utf-8")
    backend = "SQLite" if options.database_url.startswith("sqlite") else "PostgreSQL"
    command = shlex.join(["python", "-m", "bench.mixed_load", *(_shown(a) for a in sys.argv[1:])])
    with path.open("a", encoding="utf-8") as handle:
        handle.write(
            f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {backend}, {options.note}\n\n"
            f"- machine: {described}; {_load()} at the end\n- command: `{command}`\n\n"
            + "\n".join(lines)
            + "\n"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="the server's database (public ids are read)")
    parser.add_argument(
        "--prepare", type=int, metavar="N", help="fill the database with N incidents, then stop"
    )
    parser.add_argument(
        "--wrk-script", metavar="PATH", help="write a wrk Lua script asking for the sampled pages; stop"
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", help="an editor's API token (--prepare prints one)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds measured, after 5 of warm-up")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--writes", type=float, default=0.2, help="the share of API saves")
    parser.add_argument("--revalidate", type=float, default=0.0, help="the share of pages asked with an ETag")
    parser.add_argument("--server-pid", type=int, help="gunicorn's master, for the server's CPU")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write-results", action="store_true", help="append to bench/results/mixed_load.md")
    parser.add_argument(
        "--note", default="", help="what the results file says of this run (the server's setup)"
    )
    options = parser.parse_args(argv)
    if options.prepare:
        _prepare(options)
        return
    if options.wrk_script:
        Path(options.wrk_script).write_text(wrk_script(published_ids(options.database_url, options.seed)))
        return
    if not options.token:
        parser.error("--token: an editor's API token (python -m bench.mixed_load --prepare N prints one)")
    described = describe_machine()
    lines = run(options)
    print("\n".join(lines))
    if options.write_results:
        _write_results(options, described, lines)


if __name__ == "__main__":
    main()

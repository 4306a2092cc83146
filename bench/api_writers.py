"""Many API saves at once against a running server: what they are answered (201, 503, 500) and how long
they take.

    python -m bench.api_writers --url http://127.0.0.1:5000 --token inc_… [--saves 200] [--concurrency 40]

Start the server first (`make serve`, or gunicorn as the README's Deployment says) with an editor's token
(`flask --app incidents create-token EMAIL`). Each save creates a draft with a new source and one claim. To
see saves meet a database held by another writer, run an import at the same time: write a file with
`python -c "from pathlib import Path; from bench.import_bench import generate; generate(Path('rows.csv'),
20000, 1)"` and run `flask --app incidents import rows.csv --no-geocode` two seconds before this.
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit


def incident_body(number: int) -> dict[str, Any]:
    return {
        "title": f"Benchmark save {number}",
        "types": ["arrest_detention"],
        "start_date": "2023-01-20",
        "date_precision": "day",
        "country": "PE",
        "admin1": "Puno",
        "location_precision": "admin1",
        "verification_grade": "weak",
        "status": "draft",
        "citations": [
            {
                "source": {"title": f"Benchmark bulletin {number}", "kind": "press"},
                "claims": [{"category": "detained", "low": 12, "high": 15}],
            }
        ],
    }


def save(url: str, token: str, number: int) -> tuple[int, float, str | None]:
    """One create: its status, its seconds, its Retry-After."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    started = time.monotonic()
    try:
        connection.request(
            "POST",
            "/api/v1/incidents",
            json.dumps(incident_body(number)),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        answer.read()
    finally:
        connection.close()
    return answer.status, time.monotonic() - started, answer.getheader("Retry-After")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=40)
    options = parser.parse_args(argv)
    started = time.monotonic()
    with ThreadPoolExecutor(options.concurrency) as pool:
        answers = list(pool.map(lambda n: save(options.url, options.token, n), range(options.saves)))
    took = time.monotonic() - started
    seconds = sorted(duration for _, duration, _ in answers)
    statuses = collections.Counter(status for status, _, _ in answers)
    retry_after = collections.Counter(value for status, _, value in answers if status == 503)
    print(f"{options.saves} saves, {options.concurrency} at once, in {took:.1f} s")
    print("statuses:", ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())))
    print(
        f"median {seconds[len(seconds) // 2] * 1000:.0f} ms, "
        f"p99 {seconds[max(0, int(len(seconds) * 0.99) - 1)] * 1000:.0f} ms, max {seconds[-1] * 1000:.0f} ms"
    )
    if retry_after:
        print("Retry-After of the 503s:", dict(retry_after))


if __name__ == "__main__":
    main()

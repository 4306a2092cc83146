"""The production setup: gunicorn with incidents/gunicorn_conf.py in production, and the app behind a reverse
proxy (README, Deployment)."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.servers import GUNICORN, ROOT, environment, free_port

WRONG = "wrong password 123"


# -- behind a proxy ------------------------------------------------------------------------------------------


def _failed_logins(app: Flask, forwarded_for: str, count: int) -> list[int]:
    """count failed logins, each for another account, through a proxy that says the client is forwarded_for
    (all of them reach the app from the proxy's one address)."""
    return [
        app.test_client()
        .post(
            "/login",
            data={"email": f"someone-{i}@example.org", "password": WRONG},
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
        )
        .status_code
        for i in range(count)
    ]


@pytest.mark.app_config({"PROXY_COUNT": 1})
def test_behind_a_proxy_login_throttling_counts_each_client_apart(app: Flask) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per 5 minutes"
    assert _failed_logins(app, "203.0.113.7", 4) == [401, 401, 401, 429]
    # Another client behind the same proxy is not throttled for the first one's failures.
    assert _failed_logins(app, "198.51.100.20", 1) == [401]


def test_without_a_proxy_a_forwarded_for_header_is_not_believed(app: Flask) -> None:
    """Anyone can send X-Forwarded-For: a client reached directly cannot escape throttling by changing it."""
    app.config["LOGIN_RATE_LIMIT"] = "3 per 5 minutes"
    assert _failed_logins(app, "203.0.113.7", 3) == [401, 401, 401]
    assert _failed_logins(app, "198.51.100.20", 1) == [429]


# -- gunicorn ------------------------------------------------------------------------------------------------


def _production(instance: Path, **settings: str) -> dict[str, str]:
    return environment(instance, INCIDENTS_ENVIRONMENT="production", **settings)


def _run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, on the project's own modules
        [sys.executable, *command], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {
    "INCIDENTS_SECRET_KEY": secrets.token_urlsafe(48),
    "INCIDENTS_PUBLIC_BASE_URL": "https://incidents.example.org/",
}


def test_the_settings_come_from_the_environment_and_say_what_production_lacks(tmp_path: Path) -> None:
    environment = _production(
        tmp_path, WEB_CONCURRENCY="3", GUNICORN_THREADS="2", GUNICORN_BIND="127.0.0.1:8123", **PRODUCTION
    )
    checked = _run(["-m", "incidents.gunicorn_conf"], environment)
    assert checked.returncode == 0, checked.stderr
    assert "bind=127.0.0.1:8123 workers=3 worker_class=gthread threads=2" in checked.stdout

    without_key = _run(["-m", "incidents.gunicorn_conf"], {**environment, "INCIDENTS_SECRET_KEY": ""})
    assert without_key.returncode == 2
    assert without_key.stderr.startswith("incidents cannot start: refusing to start in production without")
    assert "SECRET_KEY" in without_key.stderr and "Traceback" not in without_key.stderr

    no_number = _run(["-m", "incidents.gunicorn_conf"], {**environment, "WEB_CONCURRENCY": "many"})
    assert no_number.returncode != 0
    assert "WEB_CONCURRENCY='many': give a whole number, 1 or more" in no_number.stderr


def test_gunicorn_refuses_to_start_in_production_without_a_public_address_saying_so(tmp_path: Path) -> None:
    environment = _production(
        tmp_path, GUNICORN_BIND=f"127.0.0.1:{free_port()}", INCIDENTS_SECRET_KEY=secrets.token_urlsafe(48)
    )
    refused = _run(GUNICORN, environment)
    assert refused.returncode != 0
    assert "incidents cannot start: refusing to start in production without PUBLIC_BASE_URL" in refused.stderr
    assert "Booting worker" not in refused.stderr and "Traceback" not in refused.stderr


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The app under gunicorn, in production, on a migrated SQLite database: its address."""
    port = free_port()
    environment = _production(
        tmp_path, GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2", GUNICORN_THREADS="2", **PRODUCTION
    )
    migrated = _run(["-m", "flask", "--app", "incidents", "db", "upgrade"], environment)
    assert migrated.returncode == 0, migrated.stderr
    server = subprocess.Popen(  # noqa: S603 - this interpreter, on the project's own modules
        [sys.executable, *GUNICORN],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "gunicorn did not listen within 30 s"
                time.sleep(0.2)
        yield address
    finally:
        server.terminate()
        server.communicate(timeout=40)


def test_gunicorn_serves_the_app_in_production(served: str) -> None:
    with urllib.request.urlopen(f"{served}/incidents/", timeout=10) as answer:  # noqa: S310 - our own server
        assert answer.status == 200
        assert answer.headers["Server"] == "gunicorn"
        # Production's header, and the permalinks' address: PUBLIC_BASE_URL, not the request's.
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "<h1>Incidents</h1>" in answer.read().decode("utf-8")

"""The app in processes of its own, as it is deployed: gunicorn servers and commands on a test's database, to
be killed and counted (test_deployment, test_faults, test_many_writers)."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = ["-m", "gunicorn", "--config", "python:incidents.gunicorn_conf", "incidents:create_app()"]


def environment(instance: Path, **settings: str) -> dict[str, str]:
    """The environment of a process run from the checkout: its own instance folder, no setting of the
    developer's own (INCIDENTS_*, DATABASE_URL, gunicorn's)."""
    kept = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("INCIDENTS_", "GUNICORN_"))
        and name not in ("DATABASE_URL", "WEB_CONCURRENCY", "PORT")
    }
    return {**kept, "INCIDENTS_INSTANCE_PATH": str(instance), **settings}


def on_database(app: Flask, instance: Path, **settings: str) -> dict[str, str]:
    """environment() for a process on the test app's database, in development, with a key of its own."""
    instance.mkdir(parents=True, exist_ok=True)
    defaults = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "INCIDENTS_SECRET_KEY": secrets.token_urlsafe(32),
        "INCIDENTS_JOB_QUEUE": "thread",
    }
    return environment(instance, **{**defaults, **settings})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(command: list[str], settings: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """This interpreter running command, in a process group of its own (so that killpg reaches a server's
    workers too), its output in log."""
    with log.open("ab") as output:  # the process has its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603 - this interpreter, on the project's own modules
            [sys.executable, *command],
            cwd=ROOT,
            env=settings,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill(process: subprocess.Popen[bytes]) -> None:
    """kill -9 of the process and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)


@contextlib.contextmanager
def gunicorn(settings: dict[str, str], log: Path, *, workers: int = 1, threads: int = 4) -> Iterator[Any]:
    """gunicorn serving the app with these settings: yields (address, process); stopped (TERM) at the end,
    unless killed before."""
    port = free_port()
    settings = {
        **settings,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_THREADS": str(threads),
    }
    server = start(GUNICORN, settings, log)
    try:
        wait_for(lambda: _listens(port, server, log), 30, "gunicorn to listen")
        yield f"http://127.0.0.1:{port}", server
    finally:
        if server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(40)
            except subprocess.TimeoutExpired:
                kill(server)


def _listens(port: int, server: subprocess.Popen[bytes], log: Path) -> bool:
    assert server.poll() is None, log.read_text(errors="replace")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(condition: Callable[[], Any], seconds: float, what: str, every: float = 0.05) -> Any:
    """condition()'s first true value, asked every `every` seconds; AssertionError after seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(every)
    raise AssertionError(f"waited {seconds} s for {what}")


def post_json(address: str, path: str, body: Any, token: str) -> tuple[int, Any]:
    """POST body as JSON with the token: the status and the answer's JSON (None if none); (0, error) when the
    connection failed (a server killed mid-request)."""
    host, port = address.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        connection.request(
            "POST",
            path,
            json.dumps(body),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        data = answer.read()
    except OSError as error:
        return 0, str(error)
    finally:
        connection.close()
    try:
        return answer.status, json.loads(data)
    except ValueError:
        return answer.status, None

"""gunicorn's settings for this app, as `make serve` runs it (README, Deployment):

    gunicorn -c python:incidents.gunicorn_conf 'incidents:create_app()'

Each setting below reads an environment variable; gunicorn's own flags on the command line and in
GUNICORN_CMD_ARGS come after this file and win. `python -m incidents.gunicorn_conf` prints the settings and
checks that the app starts with its configuration, saying what is missing if it does not.

Tuned for this app: pages are rendered in Python (CPU, one core per process because of the GIL), saves may
wait for the database's lock (up to DATABASE_BUSY_TIMEOUT, twice), and exports stream for as long as a
million incidents take. Hence a process per core, and threads in each, so that a waiting or streaming
request does not hold a whole process.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _whole_number(name: str, default: int, *, least: int) -> int:
    """The environment variable name as a whole number of at least least; default when unset or empty."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < least:
        raise SystemExit(f"{name}={text!r}: give a whole number, {least} or more")
    return int(text)


def _cores() -> int:
    """The processor cores this process may run on (a container's share, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# Where to listen: on this machine only, for a reverse proxy on it. With the proxy on another machine, an
# address of the private network between them (GUNICORN_BIND=10.0.0.5:8000), never a public one: the proxy
# serves the static files, terminates TLS and says who the client is (PROXY_COUNT).
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]
# Worker processes (WEB_CONCURRENCY, gunicorn's own variable): one per core, at least 2, so that one busy or
# restarting process leaves another to answer. Each has its own database connections, one per thread in use
# (and one per background import): count workers x threads per instance against PostgreSQL's
# max_connections.
workers = _whole_number("WEB_CONCURRENCY", max(2, _cores()), least=1)
# Threads per process (GUNICORN_THREADS): requests waiting for the database or streaming an export leave
# the others their turn. workers x threads requests are served at once; more wait in the listen queue.
worker_class = "gthread"
threads = _whole_number("GUNICORN_THREADS", 4, least=1)
# A process whose main loop stays silent this long (GUNICORN_TIMEOUT, seconds) is killed and replaced.
# With threads it is the process's heartbeat, not a limit on a request: a long export streams on.
timeout = _whole_number("GUNICORN_TIMEOUT", 30, least=0)
# On a restart (SIGHUP) or a stop (SIGTERM), requests under way get this long to finish
# (GUNICORN_GRACEFUL_TIMEOUT, seconds). A background import in a process that stops is not saved at all
# (one transaction): its page says to upload it again.
graceful_timeout = _whole_number("GUNICORN_GRACEFUL_TIMEOUT", 30, least=0)
# Seconds a connection kept alive by the proxy waits for its next request (GUNICORN_KEEPALIVE); nginx's
# upstream keepalive_timeout should be shorter.
keepalive = _whole_number("GUNICORN_KEEPALIVE", 5, least=0)
# Each process makes its own app and engine after the fork: no database connection is ever shared between
# processes, which neither SQLite nor psycopg allow.
preload_app = False
# One line per request and every error on standard output/error, for the service manager's journal.
accesslog = "-"
errorlog = "-"
# No control socket (gunicorn 25.1 and later; older ones ignore the name): its default path is one per
# account, which two instances on one machine would share. Signals do its work: HUP reloads the workers
# (a new release), TERM stops gracefully, TTIN and TTOU add and remove a worker.
control_socket_disable = True


def on_starting(_server: Any) -> None:
    """Before any worker: make the app once, so that a configuration it refuses (production without
    SECRET_KEY or PUBLIC_BASE_URL …) is said in one line and stops the server, instead of every worker
    failing to boot with a traceback."""
    problem = configuration_problem()
    if problem:
        sys.stderr.write(f"incidents cannot start: {problem}\n")
        raise SystemExit(2)


def configuration_problem() -> str | None:
    """Why the app refuses to start with this configuration (environment, instance/config.py), or None."""
    from incidents import create_app
    from incidents.config import ConfigurationError

    try:
        create_app()
    except ConfigurationError as refused:
        return str(refused)
    return None


def main() -> int:
    """Print the settings gunicorn will take from here, and whether the app starts with its configuration."""
    print(f"bind={','.join(bind)} workers={workers} worker_class={worker_class} threads={threads}")
    print(f"timeout={timeout}s graceful_timeout={graceful_timeout}s keepalive={keepalive}s")
    problem = configuration_problem()
    if problem:
        print(f"incidents cannot start: {problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

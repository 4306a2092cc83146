"""The job queue of a deployment on PostgreSQL (JOB_QUEUE = procrastinate): procrastinate, a task queue kept
in PostgreSQL itself (its tables, in a schema of their own named `procrastinate`), so that no other server
(Redis) is needed, a job deferred by any instance is taken by one worker on any machine (`flask --app
incidents worker`), and a worker's death (its connection ends) is seen by the server.

The web process only defers: it writes the job's row and returns. The worker runs incidents.jobs.run, which
takes the job's run lock first, as the in-process thread of the single-machine default does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import procrastinate
import sqlalchemy as sa
from flask import Flask
from procrastinate.schema import SchemaManager

SCHEMA = "procrastinate"
QUEUE = "imports"
TASK = "incidents.import_job"


def _connection(flask_app: Flask) -> dict[str, Any]:
    """psycopg_pool's arguments for the app's database, with procrastinate's schema first on the path."""
    url = sa.make_url(flask_app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    return {
        "conninfo": url.render_as_string(hide_password=False),
        "kwargs": {"options": f"-c search_path={SCHEMA}"},
    }


def defer(flask_app: Flask, token: str) -> None:
    """Queue the run of the job of this token, for a worker to take."""
    queue = procrastinate.App(
        connector=procrastinate.SyncPsycopgConnector(**_connection(flask_app), min_size=1, max_size=1)
    )
    with queue.open():
        queue.configure_task(TASK, queue=QUEUE).defer(token=token)


def run_worker(flask_app: Flask, run: Callable[[Flask, str], None], *, concurrency: int, wait: bool) -> None:
    """Take queued jobs and run each (run(flask_app, token)), concurrency at a time, until stopped (TERM or
    INT: the jobs running finish first) or, with wait false, until none is left."""
    queue = procrastinate.App(connector=procrastinate.PsycopgConnector(**_connection(flask_app)))

    @queue.task(name=TASK, queue=QUEUE)
    def import_job(token: str) -> None:
        run(flask_app, token)

    queue.run_worker(queues=[QUEUE], concurrency=concurrency, wait=wait, install_signal_handlers=wait)


def create_schema(connection: sa.Connection) -> None:
    """Create procrastinate's tables and functions (of the installed version) in their schema: a migration's
    step, and the tests' database's."""
    connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    connection.exec_driver_sql(f"SET LOCAL search_path TO {SCHEMA}")
    # Through the driver's own cursor, without parameters: the script's % signs are not placeholders.
    with connection.connection.dbapi_connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(SchemaManager.get_schema())
    connection.exec_driver_sql("SET LOCAL search_path TO DEFAULT")

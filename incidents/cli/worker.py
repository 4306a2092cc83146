"""`flask --app incidents worker`: run the import page's background jobs queued in PostgreSQL."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from incidents import jobs


@click.command("worker")
@click.option("--concurrency", default=1, show_default=True, help="Jobs run at once by this process.")
@click.option("--once", is_flag=True, help="Run the jobs queued now, then stop (not wait for more).")
@with_appcontext
def worker_command(concurrency: int, once: bool) -> None:
    """Run the import jobs queued by any instance of the app (JOB_QUEUE = procrastinate), until stopped."""
    if current_app.config["JOB_QUEUE"] != "procrastinate":
        raise click.ClickException(
            "JOB_QUEUE is thread: background jobs run in the web process, and there is no queue to work on. "
            "A worker needs PostgreSQL (JOB_QUEUE = procrastinate)."
        )
    if concurrency < 1:
        raise click.BadParameter("at least 1", param_hint="--concurrency")
    jobs.work(current_app._get_current_object(), concurrency=concurrency, wait=not once)  # type: ignore[attr-defined]

"""The import page's jobs on PostgreSQL's queue (JOB_QUEUE = procrastinate): a job started on one instance is
seen and followed from another, run by a worker process, and a worker killed mid-import leaves nothing behind
(issue 15)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bench.import_bench import generate
from incidents import audit, create_app, jobs
from incidents.extensions import db
from incidents.importing.mapping import ColumnMapping
from incidents.models import ImportJob, ImportUpload, Incident, User
from incidents.vocabulary import Role
from tests import servers
from tests.helpers import FIXTURES, checksum, confirm_form, counts, export_json, login, upload

QUEUED = {"JOB_QUEUE": "procrastinate", "IMPORT_BACKGROUND_BYTES": 0}  # every upload in the background
pytestmark = [
    pytest.mark.postgresql_only("procrastinate's queue is kept in PostgreSQL"),
    pytest.mark.app_config(QUEUED),
]


def token_of(job_url: str) -> str:
    return job_url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture
def instance(app: Flask) -> Iterator[Callable[..., Flask]]:
    """instance(**settings): another instance of the app on the same database (another process, another
    machine: a folder of its own), its connections closed at the end of the test."""
    made: list[Flask] = []

    def make(**settings: Any) -> Flask:
        folder = Path(app.config["IMPORT_FOLDER"]).parent / f"instance-{len(made)}"
        made.append(create_app({**app.config, "IMPORT_FOLDER": str(folder), **settings}))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def other_instance(editor_client: FlaskClient, instance: Callable[..., Flask]) -> FlaskClient:
    """A second instance, logged in as the same editor."""
    client = instance().test_client()
    assert login(client, "editor@example.org").status_code == 302
    return client


def id_of_user(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.scalars(sa.select(User.id).where(User.email == email)).one()


def run_worker(app: Flask) -> None:
    """A worker taking every job queued now, in this process (`flask --app incidents worker --once`)."""
    jobs.work(app, wait=False)


def test_a_job_started_on_one_instance_is_run_by_a_worker_and_followed_from_another(
    app: Flask, editor_client: FlaskClient, other_instance: FlaskClient
) -> None:
    job_url = upload(editor_client, FIXTURES / "ucdp_ged.csv")
    # Queued, not run by the web process: both instances show it waiting, and the upload is in the database.
    for client in (editor_client, other_instance):
        page = client.get(job_url).get_data(as_text=True)
        assert "Waiting for a worker to take the file" in page
        assert client.get(job_url + "/progress").get_json()["state"] == "queued"
    assert not any(Path(app.config["IMPORT_FOLDER"]).glob("*/upload"))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportUpload)) >= 1

    run_worker(app)
    page = other_instance.get(job_url).get_data(as_text=True)
    assert "Dry run: nothing was written" in page
    assert "5 incident(s) would be created" in page

    # Confirmed on the other instance; imported by the worker; shown as imported on the first.
    form = confirm_form(page)
    response = other_instance.post(form["action"], data={"sha256": form["sha256"], "import_as": "draft"})
    assert response.status_code == 302
    assert editor_client.get(job_url + "/progress").get_json() == {
        "stage": "import",
        "state": "queued",
        "done": 0,
        "total": 0,
        "percent": 0,
    }
    run_worker(app)
    assert "<h2>Imported</h2>" in editor_client.get(job_url).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 5
        # Imported: the upload is kept no longer; the job (and its report) is.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ImportUpload)) == 0
        assert db.session.get(ImportJob, token_of(job_url)) is not None


def test_a_second_confirmation_from_another_instance_is_refused(
    app: Flask, editor_client: FlaskClient, other_instance: FlaskClient
) -> None:
    job_url = upload(editor_client, FIXTURES / "acled.csv")
    run_worker(app)
    form = confirm_form(editor_client.get(job_url).get_data(as_text=True))
    data = {"sha256": form["sha256"], "import_as": "draft"}
    assert editor_client.post(form["action"], data=data).status_code == 302
    second = other_instance.post(form["action"], data=data)
    assert second.status_code == 409
    assert "The import of this file has been started already" in second.get_data(as_text=True)
    run_worker(app)
    with app.app_context():
        imported = db.session.scalar(sa.select(sa.func.count()).select_from(Incident))
    assert imported and imported > 0
    run_worker(app)  # nothing left to run: no second import
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Incident)) == imported


def test_another_editors_job_is_not_found_on_any_instance(
    editor_client: FlaskClient, make_user: Callable[..., User], instance: Callable[..., Flask]
) -> None:
    job_url = upload(editor_client, FIXTURES / "acled.csv")
    make_user("other@example.org", Role.EDITOR)
    stranger = instance().test_client()
    assert login(stranger, "other@example.org").status_code == 302
    assert stranger.get(job_url).status_code == 404
    assert stranger.get(job_url + "/progress").status_code == 404


def test_the_worker_command_needs_the_queue(instance: Callable[..., Flask]) -> None:
    result = instance(JOB_QUEUE="thread").test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert "JOB_QUEUE is thread" in result.output


def test_a_worker_killed_mid_import_leaves_no_partial_import(
    app: Flask, demo: None, make_user: Callable[..., User], instance: Callable[..., Flask], tmp_path: Path
) -> None:
    """kill -9 of the worker while it writes an import (of published incidents): the import is absent, the
    public export is what it was, the audit chain verifies, and every instance shows the job failed (not
    running forever)."""
    make_user("reviewer@example.org", Role.REVIEWER)
    reviewer, other_instance = app.test_client(), instance().test_client()
    for client in (reviewer, other_instance):
        assert login(client, "reviewer@example.org").status_code == 302
    big = tmp_path / "big.csv"
    generate(big, 6000, 7)
    with app.test_request_context(), big.open("rb") as stream:
        # As the import page stores an upload (tests of the page upload smaller files: the test client
        # spools a large one to a temporary file it does not close).
        job = jobs.create_job(
            stream,
            filename=big.name,
            owner_id=id_of_user(app, "reviewer@example.org"),
            options={"format": "auto", "dataset": "", "file_name": "big"},
            mapping=ColumnMapping(),
        )
        jobs.start(job, "dry_run", background=True)
    job_url = f"/import/{job.token}"
    run_worker(app)  # the dry run
    before = counts(app)
    public_before = checksum(export_json(app.test_client()))
    assert export_json(app.test_client())["incidents"]  # the demo's published incidents
    form = confirm_form(reviewer.get(job_url).get_data(as_text=True))
    response = reviewer.post(form["action"], data={"sha256": form["sha256"], "import_as": "published"})
    assert response.status_code == 302
    settings = servers.on_database(app, tmp_path / "worker", INCIDENTS_JOB_QUEUE="procrastinate")
    worker = servers.start(["-m", "flask", "--app", "incidents", "worker"], settings, tmp_path / "worker.log")
    try:

        def writing() -> bool:
            progress = other_instance.get(job_url + "/progress").get_json()
            return bool(progress["state"] == "running" and progress["done"] >= 1000)

        servers.wait_for(writing, 120, "the worker to be well into the import")
    finally:
        servers.kill(worker)
    # The server sees the connection end: the job's run lock is free, and the job is shown failed.
    progress = servers.wait_for(
        lambda: (p := other_instance.get(job_url + "/progress").get_json())["state"] != "running" and p,
        30,
        "the killed worker's job to be seen stopped",
    )
    assert progress["state"] == "failed"
    page = reviewer.get(job_url).get_data(as_text=True)
    assert "The import stopped when the process running it did" in page
    assert counts(app) == before
    assert checksum(export_json(app.test_client())) == public_before
    with app.app_context():
        assert audit.verify(db.session.connection()).ok

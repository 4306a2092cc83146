"""The import page: editors upload, read the dry-run report, and confirm; the import is of that very file."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from incidents import jobs
from incidents.extensions import db
from incidents.models import Incident, User
from incidents.vocabulary import PublicationStatus, Role
from tests.helpers import FIXTURES, confirm_form, counts, login, upload


@pytest.fixture
def import_folder(app: Flask) -> Path:
    """Where this test's uploads wait (tests/conftest.py gives each test its own)."""
    return Path(app.config["IMPORT_FOLDER"])


def test_upload_shows_the_dry_run_and_writes_nothing(app: Flask, editor_client: FlaskClient) -> None:
    before = counts(app)
    page = editor_client.get(upload(editor_client, FIXTURES / "ucdp_ged.csv")).get_data(as_text=True)
    assert "Dry run: nothing was written" in page
    assert "5 incident(s) would be created, 4 new source(s)." in page
    assert "Import 5 incident(s)" in page
    assert counts(app) == before


def test_confirming_imports_that_file(app: Flask, editor_client: FlaskClient, import_folder: Path) -> None:
    job_url = upload(editor_client, FIXTURES / "ucdp_ged.csv")
    page = editor_client.get(job_url).get_data(as_text=True)
    form = confirm_form(page)
    # An editor imports drafts or submits them for review; publishing straight away is a reviewer's.
    assert 'value="published"' not in page
    refused = editor_client.post(form["action"], data={"sha256": form["sha256"], "import_as": "published"})
    assert refused.status_code == 403
    assert "Only a reviewer imports incidents straight to published" in refused.get_data(as_text=True)
    assert counts(app)["incidents"] == 0
    response = editor_client.post(form["action"], data={"sha256": form["sha256"], "import_as": "in_review"})
    assert response.status_code == 302
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<h2>Imported</h2>" in page and "5 incident(s) created" in page
    with app.app_context():
        imported = list(db.session.scalars(sa.select(Incident)))
        editor = db.session.scalars(sa.select(User).where(User.email == "editor@example.org")).one()
    assert len(imported) == 5
    assert {i.status for i in imported} == {PublicationStatus.IN_REVIEW}
    assert {i.created_by_id for i in imported} == {editor.id}
    # Once imported, the upload itself is not kept; a second confirmation is refused.
    assert not list(import_folder.glob("*/upload"))
    again = editor_client.post(form["action"], data={"sha256": form["sha256"]})
    assert again.status_code == 409
    assert "The import of this file has been started already" in again.get_data(as_text=True)
    assert "<h2>Imported</h2>" in again.get_data(as_text=True)
    assert counts(app)["incidents"] == 5


def test_drafts_unless_published_on_the_page(app: Flask, editor_client: FlaskClient) -> None:
    form = confirm_form(
        editor_client.get(upload(editor_client, FIXTURES / "acled.csv")).get_data(as_text=True)
    )
    assert editor_client.post(form["action"], data={"sha256": form["sha256"]}).status_code == 302
    with app.app_context():
        assert set(db.session.scalars(sa.select(Incident.status))) == {PublicationStatus.DRAFT}


def test_the_confirmation_must_name_the_checked_file(
    app: Flask, editor_client: FlaskClient, import_folder: Path
) -> None:
    job_url = upload(editor_client, FIXTURES / "ucdp_ged.csv")
    form = confirm_form(editor_client.get(job_url).get_data(as_text=True))
    wrong = editor_client.post(form["action"], data={"sha256": "0" * 64})
    assert wrong.status_code == 409
    assert "not the one that was checked" in wrong.get_data(as_text=True)
    # The stored file changed after its dry run: refused as well.
    [stored] = import_folder.glob("*/upload")
    stored.write_bytes(stored.read_bytes().replace(b"Rangamati", b"Somewhere"))
    changed = editor_client.post(form["action"], data={"sha256": form["sha256"]})
    assert changed.status_code == 409
    assert counts(app)["incidents"] == 0


def test_errors_block_the_import_unless_the_valid_rows_only_are_chosen(
    app: Flask, editor_client: FlaskClient, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        (FIXTURES / "ucdp_ged.csv").read_text(encoding="utf-8").replace("22.643168", "999"), encoding="utf-8"
    )
    page = editor_client.get(upload(editor_client, bad)).get_data(as_text=True)
    assert '<tr class="problem-error"><td>3</td><td>latitude</td>' in page
    assert "Must be between -90 and 90 degrees." in page
    # The page names its own choice, not the command's option.
    assert "unless you tick “Import the 4 valid rows only” below." in page
    assert "Import the 4 valid rows only, and leave out" in page
    assert "--skip-invalid" not in page
    form = confirm_form(page)
    assert 'name="import_as" value="in_review">' in page  # drafts unless chosen
    refused = editor_client.post(form["action"], data={"sha256": form["sha256"], "import_as": "in_review"})
    assert refused.status_code == 422
    # What the editor chose is kept on the page that refuses it.
    assert 'name="import_as" value="in_review" checked>' in refused.get_data(as_text=True)
    assert counts(app)["incidents"] == 0
    response = editor_client.post(form["action"], data={"sha256": form["sha256"], "skip_invalid": "yes"})
    assert response.status_code == 302
    assert counts(app)["incidents"] == 4
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 invalid row(s) left out (as chosen)." in page
    assert "--skip-invalid" not in page


def test_errors_in_every_row_leave_only_fixing_the_file(editor_client: FlaskClient, tmp_path: Path) -> None:
    header, hxl, first, *_ = (FIXTURES / "ucdp_ged.csv").read_text(encoding="utf-8").splitlines()
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([header, hxl, first.replace("22.643168", "999")]) + "\n", encoding="utf-8")
    page = editor_client.get(upload(editor_client, bad)).get_data(as_text=True)
    assert (
        "1 error(s): nothing can be imported until they are fixed in the file and it is uploaded again."
    ) in page
    assert "/confirm" not in page and "--skip-invalid" not in page


def test_an_import_stopped_by_errors_says_nothing_was_imported(
    app: Flask, editor_client: FlaskClient, tmp_path: Path
) -> None:
    """A real import may find errors its dry run did not (what it checks against may change in between)."""
    bad = tmp_path / "bad.csv"
    bad.write_text(
        (FIXTURES / "ucdp_ged.csv").read_text(encoding="utf-8").replace("22.643168", "999"), encoding="utf-8"
    )
    job_url = upload(editor_client, bad)
    with app.test_request_context():
        jobs.start(jobs.load(job_url.rstrip("/").rsplit("/", 1)[-1]), "import", background=False)
    page = editor_client.get(job_url).get_data(as_text=True)
    assert "<h2>Nothing was imported</h2>" in page
    assert (
        "Nothing was imported because of the 1 error(s) listed, not even the 4 valid row(s): "
        "fix them in the file and upload it again."
    ) in page
    assert "would be" not in page and "--skip-invalid" not in page
    assert counts(app)["incidents"] == 0


def test_a_mapping_file_on_the_page(app: Flask, editor_client: FlaskClient) -> None:
    mapping = (io.BytesIO((FIXTURES / "generic_mapping.json").read_bytes()), "mapping.json")
    data = {
        "file": (io.BytesIO((FIXTURES / "generic_mapped.csv").read_bytes()), "cases.csv"),
        "mapping": mapping,
    }
    response = editor_client.post("/import/", data=data)
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "3 incident(s) would be created" in page
    bad = editor_client.post(
        "/import/",
        data={"file": (io.BytesIO(b"date\n"), "x.csv"), "mapping": (io.BytesIO(b"{not json"), "m.json")},
    )
    assert bad.status_code == 400
    assert "The mapping file is not UTF-8 JSON" in bad.get_data(as_text=True)


def test_a_missing_file_is_asked_for(editor_client: FlaskClient) -> None:
    response = editor_client.post("/import/", data={"format": "auto"})
    assert response.status_code == 400
    assert "Choose a file to import." in response.get_data(as_text=True)


def test_the_uploaded_name_is_only_shown_as_text(editor_client: FlaskClient, import_folder: Path) -> None:
    name = "../../<script>alert(1)</script>.csv"
    page = editor_client.get(upload(editor_client, FIXTURES / "acled.csv", name)).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # Stored under a random name inside the import folder, nowhere else.
    stored = [p.relative_to(import_folder) for p in import_folder.rglob("*") if p.is_file()]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}/(upload|job\.json|running\.lock)", str(p)) for p in stored), (
        stored
    )


def test_another_editors_upload_is_not_found(
    app: Flask, editor_client: FlaskClient, make_user: Callable[..., User]
) -> None:
    job_url = upload(editor_client, FIXTURES / "acled.csv")
    other = app.test_client()
    make_user("second@example.org", Role.EDITOR)
    login(other, "second@example.org")
    assert other.get(job_url).status_code == 404
    assert other.get(job_url + "/progress").status_code == 404
    assert other.post(job_url + "/confirm", data={"sha256": "0" * 64}).status_code == 404
    assert editor_client.get("/import/" + "A" * 32).status_code == 404
    assert editor_client.get("/import/../../etc").status_code == 404


def test_logged_out_visitors_are_sent_to_log_in(client: FlaskClient) -> None:
    response = client.get("/import/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_upload_form_needs_a_csrf_token(app: Flask, editor_client: FlaskClient) -> None:
    app.config["WTF_CSRF_ENABLED"] = True
    response = editor_client.post("/import/", data={"file": (io.BytesIO(b"x"), "x.csv")})
    assert response.status_code == 400
    assert counts(app)["incidents"] == 0


def test_large_files_run_in_the_background_with_progress(app: Flask, editor_client: FlaskClient) -> None:
    app.config["IMPORT_BACKGROUND_BYTES"] = 0  # every upload counts as large
    job_url = upload(editor_client, FIXTURES / "ucdp_ged.csv")
    token = job_url.rstrip("/").rsplit("/", 1)[-1]
    jobs.wait(token)
    progress = editor_client.get(job_url + "/progress").get_json()
    assert progress["stage"] == "dry_run" and progress["state"] == "done"
    form = confirm_form(editor_client.get(job_url).get_data(as_text=True))
    assert editor_client.post(form["action"], data={"sha256": form["sha256"]}).status_code == 302
    jobs.wait(token)
    assert editor_client.get(job_url + "/progress").get_json()["state"] == "done"
    assert "<h2>Imported</h2>" in editor_client.get(job_url).get_data(as_text=True)
    assert counts(app)["incidents"] == 5


def test_a_running_job_shows_a_progress_bar(app: Flask, editor_client: FlaskClient) -> None:
    job_url = upload(editor_client, FIXTURES / "acled.csv")
    token = job_url.rstrip("/").rsplit("/", 1)[-1]
    with app.test_request_context():
        lock = jobs.hold_run(token)  # as the process running it holds it
        job = jobs.load(token)
        job.state, job.done, job.total = "running", 300, 1200
        jobs.save(job)
    try:
        page = editor_client.get(job_url).get_data(as_text=True)
        assert '<progress id="import-bar" max="100" value="25">' in page
        assert "js/import-progress.js" in page
        assert editor_client.get(job_url + "/progress").get_json()["percent"] == 25
    finally:
        lock.release()


@pytest.mark.parametrize("stage", ["dry_run", "import"])
def test_a_job_whose_process_died_says_so_instead_of_running_forever(
    app: Flask, editor_client: FlaskClient, stage: str
) -> None:
    """The server restarted mid-import: no process holds the job's run lock any more. The page stops
    polling and says what happened, and that nothing of an unfinished import was imported."""
    job_url = upload(editor_client, FIXTURES / "acled.csv")
    token = job_url.rstrip("/").rsplit("/", 1)[-1]
    with app.test_request_context():
        job = jobs.load(token)
        job.stage, job.state, job.done, job.total = stage, "running", 300, 1200
        jobs.save(job)
    assert editor_client.get(job_url + "/progress").get_json()["state"] == "failed"
    page = editor_client.get(job_url).get_data(as_text=True)
    assert "js/import-progress.js" not in page
    if stage == "import":
        assert "The import stopped when the process running it did (a restart or a crash)." in page
        assert "unfinished, it imported nothing" in page
    else:
        assert "The check of this file stopped when the process running it did" in page
    assert counts(app)["incidents"] == 0


def test_two_confirmations_at_once_import_once(app: Flask, editor_client: FlaskClient) -> None:
    """A double click on Import, or two tabs: one import runs, and the page tells what it did."""
    app.config["IMPORT_BACKGROUND_BYTES"] = 0
    job_url = upload(editor_client, FIXTURES / "ucdp_ged.csv")
    token = job_url.rstrip("/").rsplit("/", 1)[-1]
    jobs.wait(token)
    form = confirm_form(editor_client.get(job_url).get_data(as_text=True))
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        login(client, "editor@example.org")
    both = threading.Barrier(2)

    def click(client: FlaskClient) -> TestResponse:
        both.wait()
        return client.post(form["action"], data={"sha256": form["sha256"]})

    with ThreadPoolExecutor(2) as pool:
        responses = list(pool.map(click, clients))
    jobs.wait(token)
    assert sorted(r.status_code for r in responses) == [302, 409]
    # The second is refused with the page of the one import: under way or done, never the form again.
    refused = next(r for r in responses if r.status_code == 409).get_data(as_text=True)
    assert "The import of this file has been started already" in refused
    assert "/confirm" not in refused
    page = editor_client.get(job_url).get_data(as_text=True)
    assert "<h2>Imported</h2>" in page and "5 incident(s) created" in page
    assert "failed unexpectedly" not in page
    assert counts(app)["incidents"] == 5


def test_a_job_that_ends_while_it_is_read_is_not_taken_for_a_stopped_one(
    app: Flask, editor_client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A progress request reads the job running; the run then saves its outcome and lets go of its lock
    before the request looks at the lock. The outcome stands: it is read again under the lock."""
    job_url = upload(editor_client, FIXTURES / "acled.csv")
    token = job_url.rstrip("/").rsplit("/", 1)[-1]
    with app.test_request_context():
        lock = jobs.hold_run(token)
        job = jobs.load(token)
        report = job.report
        job.stage, job.state = "import", "running"
        jobs.save(job)
        read = jobs._read
        calls = 0

        def read_then_the_run_ends(token: str) -> jobs.Job:
            nonlocal calls
            calls += 1
            seen = read(token)
            if calls == 1:  # the run ends now, as it does: its outcome saved, then its lock released
                ended = read(token)
                ended.state, ended.report = "done", report
                jobs.save(ended)
                lock.release()
            return seen

        monkeypatch.setattr(jobs, "_read", read_then_the_run_ends)
        assert jobs.load(token).state == "done"
        monkeypatch.setattr(jobs, "_read", read)
        assert jobs.load(token).state == "done"
        assert jobs.load(token).report == report


def test_the_data_set_typed_on_the_page_wins_over_the_mapping_files(
    app: Flask, editor_client: FlaskClient
) -> None:
    data = {
        "file": (io.BytesIO((FIXTURES / "generic_mapped.csv").read_bytes()), "generic_mapped.csv"),
        "mapping": (io.BytesIO((FIXTURES / "generic_mapping.json").read_bytes()), "mapping.json"),
        "format": "auto",
        "dataset": "typed on page",
    }
    response = editor_client.post("/import/", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = editor_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Data set: csv:typed-on-page" in page


def test_a_job_saved_before_file_names_were_kept_imports_into_the_data_set_it_checked(
    app: Flask, editor_client: FlaskClient
) -> None:
    """Jobs saved by the code before (a day's worth may be on disk at an upgrade) had the typed name or the
    file's in "dataset", and the mapping file's name came first: confirmed now, they import where they were
    checked."""
    data = {
        "file": (io.BytesIO((FIXTURES / "generic_mapped.csv").read_bytes()), "generic_mapped.csv"),
        "mapping": (io.BytesIO((FIXTURES / "generic_mapping.json").read_bytes()), "mapping.json"),
        "format": "auto",
    }
    job_url = editor_client.post("/import/", data=data).headers["Location"]
    token = job_url.rstrip("/").rsplit("/", 1)[-1]
    page = editor_client.get(job_url).get_data(as_text=True)
    assert "Data set: csv:cnddhh-2023" in page
    with app.test_request_context():
        job = jobs.load(token)
        job.options = {"format": "auto", "dataset": "generic_mapped"}  # as the code before saved it
        jobs.save(job)
    form = confirm_form(page)
    assert editor_client.post(form["action"], data={"sha256": form["sha256"]}).status_code == 302
    with app.app_context():
        assert set(db.session.scalars(sa.select(Incident.external_source))) == {"csv:cnddhh-2023"}

"""The import page: an editor uploads a file, reads the dry-run report, and confirms the import."""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from incidents import jobs
from incidents.extensions import db
from incidents.importing.formats import FORMATS
from incidents.importing.mapping import ColumnMapping, mapping_from_json
from incidents.importing.reading import FileError
from incidents.services.refusals import record_refusal
from incidents.web.security import require_editor, web_actor

blueprint = Blueprint("importing", __name__, url_prefix="/import")

# What imported incidents are: drafts, submitted for review, or (by a reviewer) published as one batch.
IMPORT_AS = ("draft", "in_review", "published")

FORMAT_LABELS = {
    "auto": "find out from the file",
    "ucdp": "UCDP GED (CSV or GeoJSON)",
    "acled": "ACLED (CSV)",
    "csv": "other CSV (columns found from their names or HXL tags, or a mapping file)",
    "json": "our own JSON export",
}


@blueprint.get("/")
def upload_form() -> str:
    require_editor()
    return render_template("importing/upload.html", formats=FORMAT_LABELS, errors={}, typed={})


@blueprint.post("/")
def upload() -> Response | tuple[str, int]:
    require_editor()
    typed = {"format": request.form.get("format", "auto"), "dataset": request.form.get("dataset", "")}
    errors: dict[str, str] = {}
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        errors["file"] = "Choose a file to import."
    if typed["format"] not in FORMATS:
        errors["format"] = f"Choose one of the formats listed, not {typed['format']!r}."
    mapping = ColumnMapping()
    mapping_upload = request.files.get("mapping")
    if mapping_upload is not None and mapping_upload.filename:
        try:
            mapping = mapping_from_json(_json(mapping_upload.read()))
        except FileError as error:
            errors["mapping"] = error.message
    dataset = typed["dataset"].strip()
    if len(dataset) > 80:
        errors["dataset"] = "At most 80 characters."
    if errors or upload is None or not upload.filename:  # no file: in errors already (said for mypy)
        return render_template(
            "importing/upload.html", formats=FORMAT_LABELS, errors=errors, typed=typed
        ), 400
    job = jobs.create_job(
        upload.stream,
        filename=upload.filename,
        owner_id=current_user.id,
        options={"format": typed["format"], "dataset": dataset, "file_name": _stem(upload.filename)},
        mapping=mapping,
    )
    jobs.start(job, "dry_run", background=_background(job))
    return redirect(url_for("importing.job_page", token=job.token))


@blueprint.get("/<token>")
def job_page(token: str) -> str:
    require_editor()
    job = _own_job(token)
    return render_template("importing/job.html", job=job, report=job.import_report())


@blueprint.get("/<token>/progress")
def job_progress(token: str) -> Response:
    require_editor()
    job = _own_job(token)
    return jsonify(stage=job.stage, state=job.state, done=job.done, total=job.total, percent=job.percent)


@blueprint.post("/<token>/confirm")
def confirm(token: str) -> Response | tuple[str, int]:
    require_editor()
    _own_job(token)  # another editor's job: not found, before waiting for its lock
    # Confirming happens once: the job is read, checked and moved to its import stage under its lock, so that
    # a second confirmation of it (a double click) sees the import started and is refused, not run again.
    with jobs.locked(token):
        job = _own_job(token)
        report = job.import_report()
        if job.stage != "dry_run":
            return _refused(job, "The import of this file has been started already: it is shown below.", 409)
        if job.state != "done" or report is None:
            return _refused(job, "No dry-run report to confirm: it is still running, or it failed.", 409)
        # The import must be of exactly the file that was checked: its hash, as the page showed it, and now.
        if request.form.get("sha256") != job.sha256 or jobs.upload_digest(job) != job.sha256:
            return _refused(job, "The stored file is not the one that was checked: upload it again.", 409)
        status = request.form.get("import_as", "draft")
        if status not in IMPORT_AS:
            return _refused(job, f"Import the incidents as one of: {', '.join(IMPORT_AS)}.", 422)
        if status == "published" and not current_user.can_review:
            message = (
                "Only a reviewer imports incidents straight to published: import them as drafts, or "
                "submit them for review."
            )
            record_refusal(web_actor(), "import.batch", "import", None, message)
            db.session.commit()
            return _refused(job, message, 403)
        job.options["publish"] = status == "published"
        job.options["submit"] = status == "in_review"
        job.options["skip_invalid"] = request.form.get("skip_invalid") == "yes"
        if report.file_errors or (report.error_count and not job.options["skip_invalid"]):
            return _refused(
                job, "The file has errors: fix them, or choose to import the valid rows only.", 422
            )
        # The run lock before the job is saved as queued: a reader in between must not take it for a job
        # whose process died (jobs.load).
        lock = jobs.hold_run(token)
        try:
            job.stage, job.state = "import", "queued"
            jobs.save(job)
        except BaseException:
            lock.release()
            raise
    jobs.start(job, "import", background=_background(job), lock=lock)
    return redirect(url_for("importing.job_page", token=job.token))


@blueprint.app_errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return render_template("importing/too_large.html", limit=limit), 413


@blueprint.app_template_filter("size")
def size(count: int | None) -> str:
    """A number of bytes for people: "16 MiB", "64 KiB", "512 bytes"."""
    count = count or 0
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= factor:
            return f"{count / factor:.3g} {unit}"
    return f"{count} bytes"


def _own_job(token: str) -> jobs.Job:
    try:
        job = jobs.load(token)
    except KeyError:
        abort(404)
    if job.owner_id != current_user.id:
        abort(404)  # another editor's upload: as if it did not exist
    return job


def _refused(job: jobs.Job, message: str, status: int) -> tuple[str, int]:
    page = render_template("importing/job.html", job=job, report=job.import_report(), refusal=message)
    return page, status


def _background(job: jobs.Job) -> bool:
    return bool(job.size > current_app.config["IMPORT_BACKGROUND_BYTES"])


def _json(content: bytes) -> Any:
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise FileError(f"The mapping file is not UTF-8 JSON: {error}.") from None


def _stem(filename: str) -> str:
    """A dataset name from the uploaded file's name: its letters and digits only (never a path)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return re.sub(r"[^0-9A-Za-z]+", "-", name).strip("-")[:80] or "upload"

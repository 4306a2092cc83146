"""An import from start to end: read, geocode, validate, write in bulk, flag possible duplicates, report.

A real import is one transaction: every row or none (on SQLite written to a stage first, and moved into the
database in that transaction at the end: services.imports.staging). With skip_invalid the valid rows are
imported and the invalid ones listed. A dry run does every step but writing, and rolls back whatever it read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa

from incidents import audit
from incidents.extensions import db
from incidents.geocoding import Geocoder
from incidents.importing.formats import open_reader
from incidents.importing.reading import FileError
from incidents.importing.report import ImportReport, Problem
from incidents.models import IncidentType
from incidents.services.imports.importer import Importer, ImportOptions, Progress
from incidents.services.imports.restore import ExportRestorer
from incidents.services.workflow import may_review

__all__ = ["ImportOptions", "Progress", "import_file"]


def import_file(
    path: Path, options: ImportOptions, *, geocoder: Geocoder | None, progress: Progress | None = None
) -> ImportReport:
    """Import (or dry-run) the file in the current app context; commits only a complete, wanted import."""
    report = ImportReport(
        dry_run=options.dry_run,
        skip_invalid=options.skip_invalid,
        publish=options.publish,
        submit=options.submit,
    )
    try:
        # Read before the writes are moved in: the file may be large, and SQLite's write lock is held from
        # the move to the commit.
        sha256 = None if options.dry_run else _sha256(path)
        importer = _run(path, options, report, geocoder, progress)
        wanted = report.importable and not options.dry_run and not report.file_errors
        if wanted and importer is not None and sha256 is not None:
            _record_batch(sha256, options, report, importer)
            db.session.commit()
            report.committed = True
        else:
            db.session.rollback()
    except BaseException:
        db.session.rollback()
        raise
    # File problems first, then by row: as a user goes through the file.
    report.problems.sort(key=lambda p: (not p.whole_file, p.row or 0))
    return report


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _record_batch(sha256: str, options: ImportOptions, report: ImportReport, importer: Importer) -> None:
    """One audit entry for the whole import: the file (its SHA-256), the choices, the incidents it made."""
    audit.record(
        db.session.connection(),
        options.actor,
        "import.batch",
        "import",
        None,
        reason="a reviewed batch: imported as published" if options.publish else "",
        details={
            "file": options.file_name,
            "sha256": sha256,
            "format": report.format,
            "dataset": report.dataset,
            "status": options.status.value,
            "rows": report.rows,
            "incidents": len(importer.created_ids),
            "incident_ids": audit.runs(importer.created_ids),
            "held_for_review": importer.held_ids,
            "sources_created": report.sources_created,
            "duplicates_flagged": report.duplicates_flagged,
        },
    )


def _run(
    path: Path,
    options: ImportOptions,
    report: ImportReport,
    geocoder: Geocoder | None,
    progress: Progress | None,
) -> Importer | None:
    if options.publish and not may_review(options.actor):
        report.add(
            Problem(
                None,
                "",
                "Only a reviewer imports incidents straight to published: import them as drafts, or submit "
                "them for review.",
                whole_file=True,
            )
        )
        return None
    rows = db.session.execute(sa.select(IncidentType.id, IncidentType.slug, IncidentType.label)).all()
    types = {slug: type_id for type_id, slug, _ in rows}
    # A cell may name a type by its slug or its label, in any case.
    type_slugs = {key.casefold(): slug for _, slug, label in rows for key in (slug, label)}
    try:
        reader = open_reader(
            path,
            format=options.format,
            mapping=options.mapping,
            dataset=options.dataset,
            file_name=options.file_name,
            type_slugs=type_slugs,
        )
    except FileError as error:
        report.add(Problem(error.row, error.column, error.message, whole_file=True))
        report.format = "" if options.format == "auto" else options.format  # as chosen: it was not read
        return None
    importer = None
    try:
        report.format, report.dataset, report.row_label = reader.format, reader.dataset, reader.row_label
        for note in reader.notes:
            report.add(note)
        kind = ExportRestorer if reader.format == "json" else Importer
        importer = kind(reader, options, report, geocoder, types)
        importer.run(progress)
    except FileError as error:
        report.add(Problem(error.row, error.column, error.message, whole_file=True))
    finally:
        try:
            if importer is not None:
                importer.writer.close()  # before the commit or rollback: no write may still be running
        finally:
            reader.close()
    return importer

"""An import from start to end: read, geocode, validate, write in bulk, flag possible duplicates, report.

A real import is one transaction: every row or none. With skip_invalid the valid rows are imported and the
invalid ones listed. A dry run does every step but writing, and rolls back whatever it read.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from incidents.extensions import db
from incidents.geocoding import Geocoder
from incidents.importing.formats import open_reader
from incidents.importing.reading import FileError
from incidents.importing.report import ImportReport, Problem
from incidents.models import IncidentType
from incidents.services.imports.importer import Importer, ImportOptions, Progress
from incidents.services.imports.restore import ExportRestorer

__all__ = ["ImportOptions", "Progress", "import_file"]


def import_file(
    path: Path, options: ImportOptions, *, geocoder: Geocoder | None, progress: Progress | None = None
) -> ImportReport:
    """Import (or dry-run) the file in the current app context; commits only a complete, wanted import."""
    report = ImportReport(dry_run=options.dry_run, skip_invalid=options.skip_invalid, publish=options.publish)
    try:
        _run(path, options, report, geocoder, progress)
        if report.importable and not options.dry_run and not report.file_errors:
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


def _run(
    path: Path,
    options: ImportOptions,
    report: ImportReport,
    geocoder: Geocoder | None,
    progress: Progress | None,
) -> None:
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
        return
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

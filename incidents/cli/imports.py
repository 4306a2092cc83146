"""`flask --app incidents import FILE`: import incidents from a file, or check it with --dry-run."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask.cli import with_appcontext

from incidents.importing.formats import FORMATS
from incidents.importing.mapping import ColumnMapping, mapping_from_options, read_mapping_file
from incidents.importing.reading import FileError
from incidents.importing.report import ImportReport
from incidents.services.imports.pipeline import ImportOptions, import_file


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path))
@click.option(
    "--format",
    "format_",
    type=click.Choice(FORMATS),
    default="auto",
    show_default=True,
    help="The file's format; auto finds it from the content.",
)
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option(
    "--publish", is_flag=True, help="Publish the imported incidents, as a reviewed batch (drafts otherwise)."
)
@click.option("--submit", is_flag=True, help="Submit the imported incidents for review (drafts otherwise).")
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Import the valid rows and list the invalid ones left out (without it, one invalid row stops all).",
)
@click.option(
    "--mapping",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    help="A column mapping (JSON) for a CSV in no format the importer knows.",
)
@click.option("--column", "columns", multiple=True, metavar="FIELD=HEADER", help="Map a column (repeatable).")
@click.option(
    "--default",
    "defaults",
    multiple=True,
    metavar="FIELD=VALUE",
    help="A value for rows without one (repeatable).",
)
@click.option("--dataset", help="A name for a generic CSV's incidents (default: the file's name).")
@click.option("--no-geocode", is_flag=True, help="Leave place names and points as they are.")
@with_appcontext
def import_command(
    file: Path,
    format_: str,
    dry_run: bool,
    publish: bool,
    submit: bool,
    skip_invalid: bool,
    mapping: Path | None,
    columns: tuple[str, ...],
    defaults: tuple[str, ...],
    dataset: str | None,
    no_geocode: bool,
) -> None:
    """Import incidents from a UCDP GED, ACLED or other CSV, a UCDP GeoJSON, or our own JSON export.

    Problems are listed by row and column; with any error nothing is imported (exit status 1).
    """
    from incidents.geocoding import current_geocoder

    if publish and submit:
        raise click.UsageError("Choose --publish or --submit, not both.")

    try:
        given = read_mapping_file(mapping) if mapping else ColumnMapping()
        given = given.merged(mapping_from_options(list(columns), list(defaults)))
    except FileError as error:
        raise click.UsageError(error.message) from None
    options = ImportOptions(
        format=format_,
        dry_run=dry_run,
        publish=publish,
        submit=submit,
        skip_invalid=skip_invalid,
        geocode=not no_geocode,
        mapping=given,
        dataset=dataset or "",
        file_name=file.stem,
    )
    with click.progressbar(length=1, label="Reading", file=sys.stderr, show_percent=True) as bar:
        done = 0

        def progress(now: int, total: int) -> None:
            nonlocal done
            bar.length = max(total, 1)
            bar.update(now - done)
            done = now

        with _fewer_collections():
            report = import_file(
                file, options, geocoder=current_geocoder() if not no_geocode else None, progress=progress
            )
    print_report(report)
    if not report.importable:
        sys.exit(1)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run Python's cyclic garbage collector less often while this command imports.

    An import keeps hundreds of thousands of live objects (footprints, cached sources, loaded rows); with the
    default thresholds the collector walks all of them again and again: 43 full collections, 6 s of a
    100,000-row import. Few of these objects form cycles, and memory at the peak is the same. Only for this
    command, which owns its process; the import page's background thread leaves the defaults alone.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(20_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def print_report(report: ImportReport) -> None:
    for problem in report.problems:
        click.echo(problem.describe(report.row_label))
    if report.dry_run:
        click.echo("Dry run: nothing was written.")
    for line in report.summary():
        click.echo(line)

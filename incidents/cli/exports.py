"""`flask --app incidents export …`: the filtered view as JSON, GeoJSON or CSV, from the command line."""

from __future__ import annotations

import sys
from typing import Any, BinaryIO

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError, fields
from werkzeug.datastructures import MultiDict

from incidents.exports.build import make_export
from incidents.exports.formats import FORMATS, WRITERS
from incidents.schemas.errors import error_paths
from incidents.schemas.filters import IncidentFilterSchema

DEFAULT_BASE_URL = "http://127.0.0.1:5000/"


def _filter_options() -> list[tuple[str, click.Option]]:
    """One option per filter of the URL (--date-from for date_from …), so the two never drift apart."""
    options = []
    for name, field in IncidentFilterSchema().fields.items():
        if name == "page":
            continue
        flag = "--" + name.replace("_", "-")
        repeated = isinstance(field, fields.List)
        help_text = "filter, as the URL parameter " + name + (" (repeat for several)" if repeated else "")
        options.append((name, click.Option([flag, name], multiple=repeated, help=help_text)))
    return options


FILTER_OPTIONS = _filter_options()


def _filters(values: dict[str, Any]) -> dict[str, Any]:
    args: MultiDict[str, str] = MultiDict()
    for name, _option in FILTER_OPTIONS:
        value = values.get(name)
        for item in value if isinstance(value, tuple) else [value]:
            if item is not None:
                args.add(name, item)
    from incidents.schemas.filters import filters_from_args

    try:
        return filters_from_args(args)
    except ValidationError as error:
        problems = "; ".join(
            f"--{path.split('.')[0].replace('_', '-')}: {' '.join(texts)}"
            for path, texts in error_paths(error.messages).items()
        )
        raise click.UsageError(problems) from error


def _export_command(**options: Any) -> None:
    """Export incidents as JSON, GeoJSON or CSV, with the same filters as the URL.

    Writes to standard output unless -o FILE is given (then a progress bar goes to standard error).
    Without --include-drafts it exports what the public sees: published incidents, no confidential fields.
    """
    fmt: str = options.pop("fmt")
    output: str | None = options.pop("output")
    staff: bool = options.pop("include_drafts")
    hxl: bool = options.pop("hxl")
    base_url: str = options.pop("base_url") or current_app.config.get("PUBLIC_BASE_URL") or DEFAULT_BASE_URL
    if hxl and fmt != "csv":
        raise click.UsageError("--hxl applies to --format csv only.")
    filters = _filters(options)
    export = make_export(filters, staff=staff, fmt=fmt, base_url=base_url, hxl=hxl)
    if output is None:
        _write(WRITERS[fmt](export), sys.stdout.buffer)
        return
    with open(output, "wb") as target:
        total = export.stored.count()
        with click.progressbar(length=total, label=f"Exporting {total} incidents", file=sys.stderr) as bar:
            done = 0

            def advance(written: int) -> None:
                nonlocal done
                bar.update(written - done)
                done = written

            export.progress = advance
            _write(WRITERS[fmt](export), target)
    click.echo(f"Wrote {done} incidents to {output}.", err=True)


def _write(chunks: Any, target: BinaryIO) -> None:
    for chunk in chunks:
        target.write(chunk)
    target.flush()


export_command = click.Command(
    "export",
    callback=with_appcontext(_export_command),
    help=_export_command.__doc__,
    params=[
        click.Option(["--format", "fmt"], type=click.Choice(FORMATS), default="json", show_default=True),
        click.Option(
            ["-o", "--output"], type=click.Path(dir_okay=False, writable=True), help="File to write"
        ),
        click.Option(
            ["--include-drafts"],
            is_flag=True,
            help="Staff export: every status, with confidential fields. Keep it private.",
        ),
        click.Option(["--hxl"], is_flag=True, help="CSV: a second row of HXL hashtags."),
        click.Option(
            ["--base-url"],
            help=f"Address of the app for permalinks (PUBLIC_BASE_URL, else {DEFAULT_BASE_URL}).",
        ),
        *[option for _name, option in FILTER_OPTIONS],
    ],
)

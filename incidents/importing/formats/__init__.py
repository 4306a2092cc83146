"""The formats an import reads, and how the format of a file is found when it is not given."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from incidents.importing.formats import acled, own_json, ucdp
from incidents.importing.formats.base import ImportRecord, RecordReader
from incidents.importing.formats.generic import GenericCsvReader, dataset_name
from incidents.importing.mapping import ColumnMapping, detect
from incidents.importing.reading import FileError, check_utf8, open_csv, sniff

FORMATS = ("auto", "json", "ucdp", "acled", "csv")

__all__ = ["FORMATS", "ImportRecord", "RecordReader", "open_reader"]


def open_reader(
    path: Path,
    *,
    format: str,
    mapping: ColumnMapping,
    dataset: str,
    type_slugs: Mapping[str, str],
    file_name: str = "file",
) -> RecordReader:
    """A reader for the file in the given format ("auto": found from its content); FileError says why not.

    dataset names a generic CSV's incidents (external_source "csv:<dataset>"): the name given, else the
    mapping file's, else file_name (the file's own name, without its extension); mapping is what the user
    gave for one (a mapping file, --column and --default options), laid over what is found in the header.
    """
    if format not in FORMATS:
        raise FileError(f"Unknown format {format!r}: use one of {', '.join(FORMATS)}.")
    kind = sniff(path)
    check_utf8(path, csv_rows=kind == "csv")
    if kind == "json":
        return _json_reader(path, format)
    if format == "json":
        raise FileError("This is not a JSON file (it does not start with { or [).", row=1)
    table = open_csv(path)
    try:
        header = set(table.header)
        chosen = format
        if format == "auto":
            if header >= ucdp.SIGNATURE:
                chosen = "ucdp"
            elif header >= acled.SIGNATURE:
                chosen = "acled"
            else:
                chosen = "csv"
        if chosen == "ucdp":
            return ucdp.UcdpCsvReader(table)
        if chosen == "acled":
            return acled.AcledReader(table, mapping.values.get("types", {}))
        found = detect(table.header, table.hxl).merged(mapping)
        name = dataset_name(dataset, mapping.dataset or "", file_name)
        return GenericCsvReader(table, found, name, type_slugs)
    except BaseException:
        table.close()
        raise


def _json_reader(path: Path, format: str) -> RecordReader:
    if format in ("acled", "csv"):
        raise FileError(f"This is a JSON file, not {format.upper()}.")
    try:
        with path.open(encoding="utf-8-sig") as handle:
            document = json.load(handle)
    except json.JSONDecodeError as error:
        raise FileError(
            f"The JSON cannot be read at line {error.lineno}, column {error.colno}: {error.msg}.", row=None
        ) from None
    except RecursionError:
        raise FileError("The JSON is nested too deeply to be read.") from None
    if own_json.is_export(document) and format in ("auto", "json"):
        return own_json.ExportJsonReader(document)
    if own_json.is_geojson_export(document):
        raise FileError(
            "This is a GeoJSON export of incidents (from this application): it holds each incident's "
            "figures but not its sources and claims. Import the JSON export of the same incidents instead: "
            "it carries everything, and imports as it was."
        )
    if (
        isinstance(document, dict)
        and document.get("type") == "FeatureCollection"
        and format in ("auto", "ucdp")
    ):
        features = document.get("features")
        if not isinstance(features, list):
            raise FileError("The FeatureCollection has no list of features.")
        return ucdp.UcdpGeoJsonReader(features)
    if format == "json" and isinstance(document, dict) and document.get("type") == "FeatureCollection":
        raise FileError(
            "This is a GeoJSON FeatureCollection, not our own JSON export: for UCDP GED events in GeoJSON, "
            "import it with --format ucdp (or auto)."
        )
    raise FileError(
        "This JSON file is in no format the importer knows: it reads our own export (incidents-export) "
        "and UCDP GED as a GeoJSON FeatureCollection."
    )

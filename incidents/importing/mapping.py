"""Which column of a CSV holds which field: found from common header names and HXL hashtags, or given.

A mapping file (JSON) or options override what is found:

    {"columns": {"start_date": "Fecha", "place_name": "Lugar", "killed": "Muertos"},
     "values": {"types": {"Detención": "arrest_detention"}},
     "defaults": {"country": "PE", "types": "killing", "location_precision": "near"},
     "date_format": "%d/%m/%Y",
     "dataset": "cnddhh-2023"}
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from incidents.importing.reading import FileError

# field → (header names, HXL hashtags), most specific first. Header names are compared folded: lower case,
# runs of other characters as one underscore ("Start date" → start_date).
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "external_id": (
        ("id", "event_id", "incident_id", "external_id", "uid", "record_id"),
        ("#event+id", "#meta+id"),
    ),
    "title": (("title", "headline", "incident_title", "summary"), ("#event+title", "#event+name")),
    "narrative": (
        ("narrative", "description", "notes", "details", "descripcion", "comments"),
        ("#description", "#event+description", "#narrative"),
    ),
    "types": (
        ("types", "type", "incident_type", "incident_types", "event_type", "category", "violation"),
        ("#event+type", "#event+category"),
    ),
    "start_date": (
        ("start_date", "date_start", "date", "event_date", "start", "date_from", "incident_date", "fecha"),
        ("#date+start", "#date+occurred", "#date"),
    ),
    "end_date": (("end_date", "date_end", "end", "date_to"), ("#date+end",)),
    "date_precision": (("date_precision",), ()),
    "place_name": (
        ("place_name", "place", "location", "town", "city", "village", "locality", "site", "lugar"),
        ("#loc+name", "#loc"),
    ),
    "admin1": (
        ("admin1", "adm1", "adm_1", "admin_1", "region", "state", "province", "department", "departamento"),
        ("#adm1+name", "#adm1"),
    ),
    "admin2": (
        ("admin2", "adm2", "adm_2", "admin_2", "district", "county", "municipality", "provincia"),
        ("#adm2+name", "#adm2"),
    ),
    "country": (
        ("country", "country_code", "iso2", "iso3", "iso", "country_name", "pais"),
        ("#country+code", "#country+name", "#country"),
    ),
    "latitude": (("latitude", "lat", "y"), ("#geo+lat",)),
    "longitude": (("longitude", "lon", "lng", "long", "x"), ("#geo+lon",)),
    "location_precision": (("location_precision",), ()),
    "perpetrators": (
        ("perpetrators", "perpetrator", "alleged_perpetrator", "alleged_perpetrators", "actor", "actor1"),
        ("#group+name+first", "#group+perpetrator", "#org+perpetrator"),
    ),
    "victims": (
        ("victims", "victim", "affected_group", "affected", "target", "targets", "actor2"),
        ("#group+name+second", "#group+victims", "#affected+type"),
    ),
    "verification_grade": (("verification_grade", "verification", "grade"), ()),
    "killed": (
        ("killed", "deaths", "dead", "fatalities", "killed_total", "muertos"),
        ("#affected+killed", "#affected+dead", "#killed"),
    ),
    "injured": (("injured", "wounded", "injuries", "heridos"), ("#affected+injured", "#affected+wounded")),
    "detained": (
        ("detained", "arrested", "arrests", "detentions", "detenidos"),
        ("#affected+arrested", "#affected+detained"),
    ),
    "disappeared": (
        ("disappeared", "missing", "desaparecidos"),
        ("#affected+missing", "#affected+disappeared"),
    ),
    "displaced": (("displaced", "idps", "desplazados"), ("#affected+displaced", "#affected+idps")),
    "source_title": (("source", "source_title", "sources", "fuente", "reference"), ("#meta+source",)),
    "source_url": (("url", "source_url", "link", "source_link"), ("#meta+url",)),
    "source_publisher": (("publisher", "source_publisher", "outlet", "media"), ("#meta+publisher",)),
    "source_date": (("source_date", "publication_date", "published", "date_published"), ("#date+reported",)),
    "source_kind": (("source_kind", "source_type"), ()),
    "locator": (("locator", "page"), ()),
    "quote": (("quote", "excerpt"), ()),
}

CASUALTY_FIELDS = ("killed", "injured", "detained", "disappeared", "displaced")
# Fields whose cell values may be translated by a mapping file's "values".
VALUE_FIELDS = (
    "types",
    "date_precision",
    "location_precision",
    "verification_grade",
    "source_kind",
    "country",
)


@dataclass
class ColumnMapping:
    columns: dict[str, str] = field(default_factory=dict)  # field → header
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # field → {cell value → our value}
    defaults: dict[str, str] = field(default_factory=dict)  # field → value when the row gives none
    date_format: str | None = None  # strptime format for dates that are not ISO (e.g. "%d/%m/%Y")
    dataset: str | None = None

    def merged(self, other: ColumnMapping) -> ColumnMapping:
        """This mapping with other's entries on top."""
        values = {key: dict(value) for key, value in self.values.items()}
        for key, value in other.values.items():
            values.setdefault(key, {}).update(value)
        return ColumnMapping(
            {**self.columns, **other.columns},
            values,
            {**self.defaults, **other.defaults},
            other.date_format or self.date_format,
            other.dataset or self.dataset,
        )


def fold_header(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.casefold()).strip("_")


def _tag(text: str) -> tuple[str, frozenset[str]]:
    """ "#affected +killed+num" → ("#affected", {"killed", "num"})."""
    base, *attributes = text.replace(" ", "").casefold().split("+")
    return base, frozenset(attributes)


def detect(header: list[str], hxl: list[str] | None) -> ColumnMapping:
    """The mapping found from HXL hashtags first, then header names; each column serves one field."""
    found: dict[str, str] = {}
    used: set[int] = set()
    if hxl:
        _detect_by_hashtags(header, hxl, found, used)
    _detect_by_names(header, found, used)
    return ColumnMapping(columns=found)


def _detect_by_hashtags(header: list[str], hxl: list[str], found: dict[str, str], used: set[int]) -> None:
    """Fields found by their HXL hashtags, into found (field → header); their columns' indexes into used."""
    tags = [_tag(tag) if tag.startswith("#") else None for tag in hxl]
    # A tag with exactly the pattern's attributes first; then one with more ("#affected+killed+num"),
    # so that "#date+start" finds date_start before start_year's "#date+year+start".
    for exact in (True, False):
        for name, (_, patterns) in FIELDS.items():
            if name in found:
                continue
            for pattern in patterns:
                base, attributes = _tag(pattern)
                index = next(
                    (
                        i
                        for i, tag in enumerate(tags)
                        if tag
                        and i not in used
                        and tag[0] == base
                        and (tag[1] == attributes if exact else attributes < tag[1] and attributes)
                    ),
                    None,
                )
                if index is not None:
                    found[name] = header[index]
                    used.add(index)
                    break


def _detect_by_names(header: list[str], found: dict[str, str], used: set[int]) -> None:
    """The fields not found yet, by their names' synonyms among the columns not used yet."""
    folded = [fold_header(name) for name in header]
    for name, (synonyms, _) in FIELDS.items():
        if name in found:
            continue
        for synonym in synonyms:
            index = next((i for i, key in enumerate(folded) if key == synonym and i not in used), None)
            if index is not None:
                found[name] = header[index]
                used.add(index)
                break


def read_mapping_file(path: Path) -> ColumnMapping:
    """A mapping file (JSON, see the module's docstring); FileError says what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FileError(f"The mapping file cannot be read as UTF-8 JSON: {error}.") from None
    return mapping_from_json(document)


def mapping_from_json(document: Any) -> ColumnMapping:
    if not isinstance(document, dict):
        raise FileError("The mapping file must hold a JSON object.")
    unknown_keys = set(document) - {"columns", "values", "defaults", "date_format", "dataset"}
    if unknown_keys:
        raise FileError(
            f"The mapping file has unknown key(s) {', '.join(sorted(unknown_keys))}; "
            "it may have columns, values, defaults, date_format and dataset."
        )
    columns = _string_map(document.get("columns", {}), "columns")
    defaults = _string_map(document.get("defaults", {}), "defaults")
    for section, names in (("columns", columns), ("defaults", defaults)):
        _check_fields(names, section)
    values_section = document.get("values", {})
    if not isinstance(values_section, dict):
        raise FileError("The mapping file's values must be an object of field → {value: our value}.")
    values = {name: _string_map(table, f"values.{name}") for name, table in values_section.items()}
    bad = [name for name in values if name not in VALUE_FIELDS]
    if bad:
        raise FileError(
            f"The mapping file's values name {', '.join(bad)}; "
            f"values may be given for {', '.join(VALUE_FIELDS)}."
        )
    date_format = document.get("date_format")
    if date_format is not None and not (isinstance(date_format, str) and _reads_days(date_format)):
        raise FileError(
            f"The mapping file's date_format {date_format!r} does not read dates: give a strptime format "
            'with the day, the month and the year, such as "%d/%m/%Y" (%d day, %m month, %Y year).'
        )
    dataset = document.get("dataset")
    if dataset is not None and not (isinstance(dataset, str) and dataset.strip()):
        raise FileError("The mapping file's dataset must be a non-empty name.")
    return ColumnMapping(columns, values, defaults, date_format, dataset)


def mapping_from_options(columns: list[str], defaults: list[str]) -> ColumnMapping:
    """--column FIELD=HEADER and --default FIELD=VALUE options as a mapping."""
    return ColumnMapping(
        columns=_pairs(columns, "--column", "FIELD=HEADER"),
        defaults=_pairs(defaults, "--default", "FIELD=VALUE"),
    )


def _pairs(options: list[str], option: str, shape: str) -> dict[str, str]:
    pairs = {}
    for text in options:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise FileError(f"{option} {text!r}: give {shape}.")
        pairs[name.strip()] = value.strip()
    _check_fields(pairs, option)
    return pairs


def _string_map(section: Any, name: str) -> dict[str, str]:
    if not isinstance(section, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in section.items()
    ):
        raise FileError(f"The mapping's {name} must be an object of text → text.")
    return {k.strip(): v.strip() for k, v in section.items()}


def _check_fields(names: dict[str, str], where: str) -> None:
    unknown = [name for name in names if name not in FIELDS]
    if unknown:
        raise FileError(
            f"{where}: unknown field(s) {', '.join(unknown)}; the fields are {', '.join(FIELDS)}."
        )


def _reads_days(date_format: str) -> bool:
    """Whether a strptime format reads back the days it writes (31 January and 1 December 2023; at a time
    and in a time zone, for formats that have them)."""
    try:
        return all(
            dt.datetime.strptime(moment.strftime(date_format), date_format).date() == moment.date()
            for moment in (
                dt.datetime(2023, 1, 31, 10, 30, tzinfo=dt.UTC),
                dt.datetime(2023, 12, 1, 22, 5, tzinfo=dt.UTC),
            )
        )
    except (ValueError, re.error):  # re.error: a directive given twice (%d/%d/%Y)
        return False

"""What every format reader gives the pipeline: records in the shape IncidentInputSchema loads."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pycountry

from incidents.importing.reading import CsvTable
from incidents.importing.report import Problem
from incidents.schemas import SourceInputSchema

# The fields of a source, as the schema loads them (and the sources table stores them).
SOURCE_FIELDS = tuple(SourceInputSchema().fields)


@dataclass(slots=True)
class ImportRecord:
    """One incident as read from a file, before validation."""

    row: int  # as the report names it: a spreadsheet row (header = 1), a feature or an incident number
    external_id: str
    data: dict[str, Any]  # IncidentInputSchema input; location_precision may be None until geocoding
    columns: Mapping[str, str]  # input field path (citations.0.claims.0.low) → the file's column
    problems: list[Problem] = field(default_factory=list)  # found while reading, before the schema
    # Our own exports carry ids: the incident's and each cited source's, kept where they are free, and the
    # sources told apart by id (not by content) so that a round trip gives back the same records.
    preferred_id: int | None = None  # the id of exports before format 1.3
    preferred_public_id: str | None = None
    source_ids: list[int] | None = None
    # A staff export's status: a draft stays a draft and a retraction stays retracted, whatever --publish.
    status: str | None = None
    digest: str | None = None  # content_digest of the values read (incidents.external_digest)
    content_id: bool = False  # external_id is a digest of the whole row: the file has no id column


class RecordReader(Protocol):
    """A format's reader over one open file."""

    format: str  # "ucdp", "acled", "csv", "json"
    dataset: str  # the incidents' external_source
    row_label: str  # what the report calls a record: "row", "feature", "incident"
    notes: tuple[Problem, ...]  # about the file as a whole, found on opening it (warnings)

    def records(self) -> Iterator[ImportRecord]: ...

    @property
    def progress(self) -> tuple[int, int]:
        """(done, total) in whatever unit the reader counts: bytes or records."""
        ...

    def close(self) -> None: ...


class CsvRecordReader:
    """A reader over a CSV table: one record per data row, and a row with more cells than columns named."""

    format = ""
    dataset = ""
    row_label = "row"
    notes: tuple[Problem, ...] = ()

    def __init__(self, table: CsvTable) -> None:
        self._table = table

    def record(self, row: int, cells: list[str]) -> ImportRecord:
        raise NotImplementedError

    def records(self) -> Iterator[ImportRecord]:
        header = self._table.header
        width = len(header)
        for row, cells in self._table.rows():
            record = self.record(row, cells)
            if len(cells) > width:
                record.problems += width_problems(row, cells, header)
            yield record

    def values(self, cells: list[str]) -> dict[str, str]:
        """The row's cells by column name."""
        return dict(zip(self._table.header, cells, strict=False))

    @property
    def progress(self) -> tuple[int, int]:
        return self._table.progress

    def close(self) -> None:
        self._table.close()


def width_problems(row: int, cells: list[str], header: list[str]) -> list[Problem]:
    """A row with more filled cells than the header has columns: its values are likely shifted."""
    extra = cells[len(header) :]
    if not any(cell.strip() for cell in extra):
        return []
    return [
        Problem(
            row,
            "",
            f"The row has {len(cells)} cells and the header {len(header)} columns: a value with an unquoted "
            "comma (or semicolon) may have shifted the others.",
        )
    ]


def content_digest(values: Iterable[str]) -> str:
    """SHA-256 (hex) of a record's values as read: the same record in another file gives the same digest."""
    return hashlib.sha256("\x1f".join(values).encode()).hexdigest()


def column_for(path: str, columns: Mapping[str, str]) -> str:
    """The file's column for an input field path, trying the path and then each shorter prefix of it."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        column = columns.get(".".join(parts[:end]))
        if column is not None:
            return column
    return path


def cut(text: str, length: int) -> str:
    """Text for a field we compose (a title), cut at a word to fit, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text) <= length:
        return text
    shortened = text[: length - 1].rsplit(" ", 1)[0] if " " in text[: length - 1] else text[: length - 1]
    return shortened.rstrip(" ,;:–-") + "…"


_ISO_DATE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})(?:[ T][0-9:.+Z-]*)?\s*$")


@functools.lru_cache(maxsize=4096)
def iso_date(text: str) -> str:
    """ "2013-12-13" from "2013-12-13", "2013-12-13 00:00:00.000" or "2013-12-13T00:00:00Z"; otherwise the
    text itself, for the schema to refuse with its own message.
    """
    match = _ISO_DATE.match(text)
    return match.group(1) if match else text.strip()


def month_span(day: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day of day's month."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


@functools.lru_cache(maxsize=4096)
def country_code(text: str) -> str | None:
    """ISO 3166-1 alpha-2 for an alpha-2, alpha-3 or numeric code or a country name; None when unknown.

    UCDP names carry a former name in brackets ("Yemen (North Yemen)", "DR Congo (Zaire)"): the bracket is
    dropped before the look-up.
    """
    value = text.strip()
    if not value:
        return None
    if value.isdigit():
        found = pycountry.countries.get(numeric=value.zfill(3))
        return str(found.alpha_2) if found else None
    bare = re.sub(r"\s*\(.*\)\s*$", "", value)
    # "Perú", "Côte d'Ivoire": names in other languages or with accents are looked up without them too.
    unaccented = "".join(c for c in unicodedata.normalize("NFKD", bare) if not unicodedata.combining(c))
    candidates = [value, bare, unaccented]
    for candidate in candidates:
        try:
            return str(pycountry.countries.lookup(candidate).alpha_2)
        except LookupError:
            continue
    return _COMMON_NAMES.get(value.casefold())


# Names in data sets that pycountry does not know by these spellings.
_COMMON_NAMES = {
    "dr congo (zaire)": "CD",
    "dr congo": "CD",
    "democratic republic of congo": "CD",
    "republic of congo": "CG",
    "congo": "CG",
    "ivory coast": "CI",
    "russia (soviet union)": "RU",
    "russia": "RU",
    "kingdom of eswatini (swaziland)": "SZ",
    "cambodia (kampuchea)": "KH",
    "myanmar (burma)": "MM",
    "zimbabwe (rhodesia)": "ZW",
    "madagascar (malagasy)": "MG",
    "bosnia-herzegovina": "BA",
    "serbia (yugoslavia)": "RS",
    "kosovo": "XK",
    "turkey": "TR",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "vietnam (north vietnam)": "VN",
    "yemen (north yemen)": "YE",
    "palestine": "PS",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "south korea": "KR",
    "north korea": "KP",
}

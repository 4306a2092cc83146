"""Any other CSV, read through a column mapping (importing.mapping): one row, one incident.

Dates may be whole (2023-01-09: an exact day), a month (2023-01) or a year (2023), and the precision follows
unless a column or default gives it. A casualty cell holds a number or a range ("17–18"). A row without an id
column is known by a hash of its cells, so the same row imported twice is still recognised.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from incidents.importing.formats.base import (
    CsvRecordReader,
    ImportRecord,
    content_digest,
    country_code,
    cut,
    iso_date,
    month_span,
)
from incidents.importing.mapping import CASUALTY_FIELDS, FIELDS, ColumnMapping
from incidents.importing.reading import CsvTable, FileError, refuse_repeated
from incidents.importing.report import Problem, Severity
from incidents.vocabulary import DatePrecision, LocationPrecision, SourceKind, VerificationGrade

FORMAT = "csv"

_RANGE = re.compile(r"^\s*(\d+)\s*[-–—]\s*(\d+)\s*$")
_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")
_YEAR = re.compile(r"^\s*(\d{4})\s*$")
# Fine to coarse: the vocabulary's own order (UCDP's date_prec 1 to 5).
_DATE_ORDER = [p.value for p in DatePrecision]
_SERIAL = re.compile(r"^\s*\d{5}(\.\d+)?\s*$")  # Excel's days since 1899-12-30: 44935 is 2023-01-09
_SLASHED = re.compile(r"^\s*\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\s*$")
_WORDY_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%d-%b-%Y", "%d-%B-%Y")


def dataset_name(*names: str) -> str:
    """ "csv:" and a short name made of the letters and digits of the first of the names that has any, for
    external_source (a name of spaces or dashes alone does not hide the next)."""
    for text in names:
        slug = re.sub(r"[^0-9a-z]+", "-", text.casefold()).strip("-")[:80]
        if slug:
            return f"csv:{slug}"
    return "csv:file"


class GenericCsvReader(CsvRecordReader):
    format = FORMAT

    def __init__(
        self, table: CsvTable, mapping: ColumnMapping, dataset: str, type_slugs: Mapping[str, str]
    ) -> None:
        absent = sorted({header for header in mapping.columns.values() if header not in table.header})
        if absent:
            raise FileError(
                f"The mapping names column(s) the file does not have: {', '.join(absent)} "
                f"(its columns: {', '.join(h for h in table.header if h)}).",
                row=1,
            )
        missing = _missing(mapping)
        if missing:
            raise FileError(
                "Required columns are missing: "
                + "; ".join(missing)
                + ". The file is in no format this importer "
                "recognises by itself (UCDP GED, ACLED, our JSON export): name its columns in a mapping file "
                '("columns"), or give values for every row ("defaults"); on the command line, --column '
                "FIELD=HEADER and --default FIELD=VALUE do the same.",
                row=1,
            )
        refuse_repeated(table.header, mapping.columns.values())
        super().__init__(table)
        used = set(mapping.columns.values())
        unused = [header for header in table.header if header and header not in used]
        if unused:
            self.notes = (
                Problem(
                    None,
                    "",
                    f"Column(s) not imported: {', '.join(unused)}. No field of an incident is found by these "
                    "names; if they hold incident data, name their fields in a mapping file (or with "
                    "--column FIELD=HEADER).",
                    Severity.WARNING,
                ),
            )
        self._mapping = mapping
        self.dataset = dataset
        self._indexes = {name: table.header.index(header) for name, header in mapping.columns.items()}
        self._read = [self._indexes[name] for name in sorted(self._indexes)]
        self._types = type_slugs

    def _value(self, cells: list[str], name: str) -> str:
        index = self._indexes.get(name)
        value = cells[index].strip() if index is not None else ""
        return value or self._mapping.defaults.get(name, "")

    def _translated(self, name: str, value: str) -> str:
        table = self._mapping.values.get(name)
        if not table or not value:
            return value
        if value in table:
            return table[value]
        folded = {key.casefold(): our for key, our in table.items()}
        return folded.get(value.casefold(), value)

    def record(self, row: int, cells: list[str]) -> ImportRecord:
        get = self._value
        columns = self._mapping.columns
        problems: list[Problem] = []
        external_id = get(cells, "external_id")
        content_id = not external_id
        if content_id:
            # No id column: the row's content is its identity.
            external_id = f"sha256:{content_digest(cell.strip() for cell in cells)[:40]}"

        start_text, end_text = get(cells, "start_date"), get(cells, "end_date")
        start, end, implied = self._dates(start_text, end_text, row, problems)
        precision = self._date_precision(get(cells, "date_precision"), start_text, implied, row, problems)
        types = [self._type(part) for part in re.split(r"[;|]", get(cells, "types")) if part.strip()]
        country_text = self._translated("country", get(cells, "country"))
        country = country_code(country_text) or country_text
        place, admin1, admin2 = get(cells, "place_name"), get(cells, "admin1"), get(cells, "admin2")
        latitude, longitude = get(cells, "latitude"), get(cells, "longitude")
        location = self._our_value("location_precision", get(cells, "location_precision"), LocationPrecision)
        grade = self._our_value("verification_grade", get(cells, "verification_grade"), VerificationGrade)
        paths: dict[str, str] = {}
        claims = self._claims(cells, paths)
        data: dict[str, Any] = {
            "title": get(cells, "title") or _title(types, place or admin2 or admin1 or country, start_text),
            "narrative": get(cells, "narrative"),
            "types": types,
            "start_date": start,
            "end_date": end,
            "date_precision": precision or implied,
            "place_name": place,
            "admin1": admin1,
            "admin2": admin2,
            "country": country,
            "latitude": latitude or None,
            "longitude": longitude or None,
            "location_precision": location,  # None: the geocoding step decides from what the row has
            "perpetrators": get(cells, "perpetrators"),
            "victims": get(cells, "victims"),
            "verification_grade": grade or VerificationGrade.WEAK.value,
            "citations": self._citations(cells, claims),
        }
        record = ImportRecord(
            row, external_id, data, {**_COLUMN_PATHS, **_mapped(columns), **paths}, problems
        )
        # The columns read, in the order of our fields: the same rows with other columns, or in another
        # order, have the same digest.
        record.digest = content_digest(cells[index].strip() for index in self._read)
        record.content_id = content_id
        return record

    # The steps of record, each called once per row.

    def _date_precision(
        self, text: str, start_text: str, implied: str, row: int, problems: list[Problem]
    ) -> str | None:
        """The precision a cell (or default) gives, unless it is finer than the date's form (implied)."""
        precision = self._our_value("date_precision", text, DatePrecision)
        if precision in _DATE_ORDER and _DATE_ORDER.index(precision) < _DATE_ORDER.index(implied):
            # "day" for a date given as a month would be invented precision: the date's own form wins.
            problems.append(
                Problem(
                    row,
                    self._mapping.columns.get("date_precision", "date_precision"),
                    f"{precision!r} is finer than the date ({start_text!r} is a {implied}): imported at "
                    f"{implied} precision.",
                    Severity.WARNING,
                )
            )
            return implied
        return precision

    def _claims(self, cells: list[str], paths: dict[str, str]) -> list[dict[str, str]]:
        """A claim per casualty column with a figure (a number, or a range "17–18"); paths gets the input
        path of each, with its column."""
        columns = self._mapping.columns
        claims: list[dict[str, str]] = []
        for category in CASUALTY_FIELDS:
            figure = self._value(cells, category)
            if not figure:
                continue
            paths[f"citations.0.claims.{len(claims)}"] = columns.get(category, category)
            match = _RANGE.match(figure)
            claims.append(
                {"category": category, "low": match.group(1), "high": match.group(2)}
                if match
                else {"category": category, "low": figure}
            )
        return claims

    def _citations(self, cells: list[str], claims: list[dict[str, str]]) -> list[dict[str, Any]]:
        """The row's source citing its claims; a source named after the file when the row has claims but no
        source; none when it has neither."""
        get = self._value
        source_title = get(cells, "source_title")
        if not (source_title or claims):
            return []
        source: dict[str, Any] = {
            "title": source_title or f"{self.dataset.removeprefix('csv:')} (imported file)",
            "kind": self._our_value("source_kind", get(cells, "source_kind"), SourceKind) or "other",
            "publisher": get(cells, "source_publisher"),
            "url": get(cells, "source_url"),
            "publication_date": iso_date(get(cells, "source_date")) or None,
        }
        return [
            {
                "source": source,
                "locator": get(cells, "locator"),
                "quote": get(cells, "quote"),
                "claims": claims,
            }
        ]

    def _type(self, text: str) -> str:
        value = self._translated("types", text.strip())
        return self._types.get(value.casefold(), value)

    def _our_value(self, name: str, text: str, vocabulary: Any) -> str | None:
        """Our value for a cell: the value itself or its label, in any case; the text as given otherwise."""
        value = self._translated(name, text)
        if not value:
            return None
        for member in vocabulary:
            if value.casefold() in (member.value.casefold(), member.label.casefold()):
                return str(member.value)
        return value

    def _dates(
        self, start_text: str, end_text: str, row: int, problems: list[Problem]
    ) -> tuple[str, str | None, str]:
        """ISO start and end, and the precision the start's form implies (day, month, year)."""
        start, start_end, implied = self._date(start_text, row, "start_date", problems)
        end = None
        if end_text:
            _, end, _ = self._date(end_text, row, "end_date", problems)
        elif start_end != start:
            end = start_end
        return start, end, implied

    def _date(self, text: str, row: int, name: str, problems: list[Problem]) -> tuple[str, str, str]:
        """(first day, last day, precision) that a cell means: a day, a month or a year."""
        if self._mapping.date_format:
            try:
                day = dt.datetime.strptime(text, self._mapping.date_format).date().isoformat()
                return day, day, DatePrecision.DAY.value
            except ValueError:
                pass
        month, year = _MONTH.match(text), _YEAR.match(text)
        if year:
            return f"{year.group(1)}-01-01", f"{year.group(1)}-12-31", DatePrecision.YEAR.value
        if month and 1 <= int(month.group(2)) <= 12:
            first, last = month_span(dt.date(int(month.group(1)), int(month.group(2)), 1))
            return first.isoformat(), last.isoformat(), DatePrecision.MONTH.value
        for pattern in _WORDY_FORMATS:
            try:
                day = dt.datetime.strptime(text, pattern).date().isoformat()
                return day, day, DatePrecision.DAY.value
            except ValueError:
                continue
        if _SERIAL.match(text):
            problems.append(
                Problem(
                    row,
                    self._mapping.columns.get(name, name),
                    f"{text!r} looks like a spreadsheet's day number, not a date: format the column as dates "
                    "(YYYY-MM-DD) in the spreadsheet before saving it as CSV.",
                )
            )
        elif _SLASHED.match(text) and not self._mapping.date_format:
            column = self._mapping.columns.get(name, name)
            problems.append(
                Problem(
                    row,
                    column,
                    f"{text!r}: write dates as YYYY-MM-DD, or give the date_format of this file in a mapping "
                    'file ("%d/%m/%Y" or "%m/%d/%Y"): 01/02/2023 is 1 February in some countries and '
                    "2 January in others.",
                )
            )
        day = iso_date(text)
        return day, day, DatePrecision.DAY.value


def _title(types: list[str], where: str, when: str) -> str:
    """A title for a row without one: its types, where and when ("killing, Juliaca, 2023-01-09")."""
    return cut(
        ", ".join(
            part
            for part in (" and ".join(t.replace("_", " ") for t in types) or "Incident", where, when)
            if part
        ),
        300,
    )


# Input paths whose column is a field's own column.
_COLUMN_PATHS = {
    "external_id": "external_id",
    "citations.0.source.title": "source_title",
    "citations.0.source.url": "source_url",
    "citations.0.source.publisher": "source_publisher",
    "citations.0.source.publication_date": "source_date",
    "citations.0.source.kind": "source_kind",
    "citations.0.locator": "locator",
    "citations.0.quote": "quote",
}


def _mapped(columns: dict[str, str]) -> dict[str, str]:
    """Input path → the file's header, for every mapped field."""
    paths = {path: columns[name] for path, name in _COLUMN_PATHS.items() if name in columns}
    paths.update({name: header for name, header in columns.items() if name in FIELDS})
    return paths


def _missing(mapping: ColumnMapping) -> list[str]:
    have = set(mapping.columns) | set(mapping.defaults)
    missing = []
    if "start_date" not in have:
        names = ", ".join(FIELDS["start_date"][0][:4] + FIELDS["start_date"][1][:1])
        missing.append(f"start_date (a date column such as {names})")
    if not have & {"country", "place_name", "latitude", "admin1"}:
        missing.append("a location (country, place_name, admin1, or latitude and longitude)")
    if ("latitude" in have) != ("longitude" in have):
        missing.append("latitude and longitude together")
    if "types" not in have:
        missing.append("types (an incident type column, or --default types=<type>)")
    return missing

"""UCDP Georeferenced Event Dataset (GED), as CSV or GeoJSON: one event, one incident.

- dates: date_start, date_end and date_prec (1 day … 5 year); location: where_coordinates, adm_1, adm_2,
  latitude/longitude and where_prec (5 and 7 become "country", see formats.precision_codes);
- figures: low and high as the claim of killed for the whole event, best as the best estimate, and the deaths
  per side (deaths_a, deaths_b, deaths_civilians, deaths_unknown) as claims of killed for their group, named
  after the side: a breakdown of the same source's figure, which does not widen the range (see
  domain.casualties). One-sided violence has no deaths_b claim when it is 0 (side B is the civilians, counted
  in deaths_civilians). Where best, or the deaths per side, exceed low–high, the range is widened to take
  them in, with a warning. The figures as coded are also written in the narrative;
- source: source_article, source_office, source_date, source_headline as one source (the same text in
  several events is one source), cited by the event; an event without any is cited to the GED itself.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import re
from collections.abc import Iterator, Mapping
from typing import Any

from incidents.importing.formats.base import (
    CsvRecordReader,
    ImportRecord,
    content_digest,
    country_code,
    cut,
    iso_date,
)
from incidents.importing.formats.event_types import UCDP_TYPE, UCDP_TYPE_OF_VIOLENCE
from incidents.importing.formats.precision_codes import (
    UCDP_DATE_MEANING,
    UCDP_DATE_PRECISION,
    UCDP_WHERE_MEANING,
    UCDP_WHERE_PRECISION,
    read_code,
)
from incidents.importing.reading import CsvTable, FileError, refuse_repeated
from incidents.importing.report import Problem, Severity
from incidents.schemas.fields import MAX_INT
from incidents.vocabulary import DatePrecision, LocationPrecision, SourceKind

FORMAT = "ucdp"
DATASET = "ucdp"
# Columns without which an event cannot be read. A country comes from iso3 or country.
REQUIRED = ("id", "date_start", "date_end", "date_prec", "where_prec", "low", "best", "high")
SIGNATURE = {"id", "date_start", "date_prec", "where_prec", "best"}

COLUMNS: dict[str, str] = {
    "external_id": "id",
    "title": "dyad_name",
    "start_date": "date_start",
    "end_date": "date_end",
    "date_precision": "date_prec",
    "place_name": "where_coordinates",
    "admin1": "adm_1",
    "admin2": "adm_2",
    "country": "country",
    "latitude": "latitude",
    "longitude": "longitude",
    "location_precision": "where_prec",
    "perpetrators": "side_a",
    "victims": "side_b",
    "citations.0.source": "source_article",
    "citations.0.source.title": "source_headline",
    "citations.0.source.publisher": "source_office",
    "citations.0.source.publication_date": "source_date",
    "citations.0.claims.0.low": "low",
    "citations.0.claims.0.high": "high",
    "citations.0.claims": "low",
    "estimates": "best",
}

# The source of an event whose source columns are all empty: the data set that coded it.
GED_SOURCE = {
    "title": "UCDP Georeferenced Event Dataset (GED)",
    "kind": SourceKind.OTHER.value,
    "publisher": "Uppsala Conflict Data Program",
    "url": "https://ucdp.uu.se/downloads/",
}


def missing_columns(header: list[str]) -> list[str]:
    present = set(header)
    missing = [name for name in REQUIRED if name not in present]
    if not present & {"iso3", "country"}:
        missing.append("iso3 or country")
    return missing


class UcdpCsvReader(CsvRecordReader):
    format = FORMAT
    dataset = DATASET

    def __init__(self, table: CsvTable) -> None:
        missing = missing_columns(table.header)
        if missing:
            raise FileError(f"This UCDP GED file lacks the column(s) {', '.join(missing)}.", row=1)
        refuse_repeated(table.header, _READ)
        super().__init__(table)
        # Where each column read is in a row (the last of a repeated name, as values() has it); the absent
        # ones are empty. There are always more than one: the required ones.
        last = {name: i for i, name in enumerate(table.header)}
        self._present = [name for name in _READ if name in last]
        self._cells = operator.itemgetter(*(last[name] for name in self._present))
        self._absent = {name: "" for name in _READ if name not in last}

    def record(self, row: int, cells: list[str]) -> ImportRecord:
        values = dict(zip(self._present, map(str.strip, self._cells(cells)), strict=True))
        if self._absent:
            values.update(self._absent)
        return _record(row, values)


class UcdpGeoJsonReader:
    """A GeoJSON FeatureCollection of GED events: properties as the CSV's columns, the point as geometry."""

    format = FORMAT
    dataset = DATASET
    row_label = "feature"
    notes: tuple[Problem, ...] = ()

    def __init__(self, features: list[Any]) -> None:
        self._features = features
        self._done = 0
        keys = set()
        for feature in features[:1]:
            if isinstance(feature, dict) and isinstance(feature.get("properties"), dict):
                keys = set(feature["properties"])
        missing = missing_columns(list(keys))
        if missing:
            raise FileError(f"The GeoJSON features lack the UCDP propertie(s) {', '.join(missing)}.", row=1)

    def records(self) -> Iterator[ImportRecord]:
        for number, feature in enumerate(self._features, start=1):
            self._done = number
            values, problem = _feature_values(feature)
            record = ucdp_record(number, values)
            if problem:
                record.problems.append(Problem(number, "geometry", problem))
            yield record

    @property
    def progress(self) -> tuple[int, int]:
        return self._done, len(self._features)

    def close(self) -> None:
        self._features = []


def _feature_values(feature: Any) -> tuple[dict[str, str], str]:
    """The feature's properties as CSV-like text, with the point (lon, lat in GeoJSON) when it has one."""
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return {}, "A feature must be an object with properties."
    values = {str(k): _text(v) for k, v in feature["properties"].items()}
    geometry = feature.get("geometry")
    if geometry is None:
        return values, ""
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not (isinstance(geometry, dict) and geometry.get("type") == "Point" and isinstance(coordinates, list)):
        return values, "Only Point geometries can be imported (GeoJSON: [longitude, latitude])."
    if len(coordinates) < 2:
        return values, "A point needs a longitude and a latitude."
    values["longitude"], values["latitude"] = str(coordinates[0]), str(coordinates[1])
    return values, ""


def _text(value: Any) -> str:
    """A property as the CSV would have it: a whole number written 3.0 (as JSON tools often write counts and
    codes) is 3."""
    if value is None:
        return ""
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value)


# The columns an event is read from.
_READ = (
    "id", "date_prec", "where_prec", "date_start", "date_end", "iso3", "country", "side_a", "side_b",
    "type_of_violence", "where_coordinates", "dyad_name", "best", "low", "high", "source_article",
    "source_office", "source_date", "source_headline", "conflict_name", "deaths_a", "deaths_b",
    "deaths_civilians", "deaths_unknown", "adm_1", "adm_2", "latitude", "longitude", "number_of_sources",
    "event_clarity",
)  # fmt: skip
# The codes as a file gives them, and the values of what they stand for: most rows need no more.
_DATE_CODES = {str(code): code for code in UCDP_DATE_PRECISION}
_WHERE_CODES = {str(code): code for code in UCDP_WHERE_PRECISION}
_DATE_VALUES = {code: precision.value for code, precision in UCDP_DATE_PRECISION.items()}
_WHERE_VALUES = {code: precision.value for code, precision in UCDP_WHERE_PRECISION.items()}
_DAY = DatePrecision.DAY.value
_SPAN = DatePrecision.SPAN.value
_DEATHS = ("deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown")
_COUNTRY = LocationPrecision.COUNTRY.value


def ucdp_record(row: int, values: Mapping[str, str]) -> ImportRecord:
    """One GED event as incident input."""
    return _record(row, {name: (values.get(name) or "").strip() for name in _READ})


def _record(row: int, event: dict[str, str]) -> ImportRecord:
    """ucdp_record, from the columns it reads (_READ), stripped."""
    problems: list[Problem] = []
    event_id = event["id"]
    if not event_id:
        problems.append(Problem(row, "id", "Empty: every UCDP event has an id."))
    date_code = _DATE_CODES.get(event["date_prec"]) or read_code(
        event["date_prec"], UCDP_DATE_PRECISION, "a UCDP date precision", row, "date_prec", problems
    )
    where_code = _WHERE_CODES.get(event["where_prec"]) or read_code(
        event["where_prec"], UCDP_WHERE_PRECISION, "a UCDP location precision", row, "where_prec", problems
    )
    start, end = iso_date(event["date_start"]), iso_date(event["date_end"])
    date_precision = _date_precision(row, date_code, start, end, problems)
    country = _country(row, event, problems)
    side_a, side_b = event["side_a"], event["side_b"]
    one_sided = event["type_of_violence"] == "3"
    claim = _event_claim(row, event, problems)
    per_side = _deaths_per_side(row, event, one_sided, problems)
    _take_in_deaths_per_side(row, claim, per_side, problems)

    data: dict[str, Any] = {
        "title": _title(event),
        "narrative": _narrative(event, where_code, date_code),
        "types": [UCDP_TYPE],
        "start_date": start,
        # UCDP repeats the day as date_end for a one-day event: no end date then.
        "end_date": None if (end == start and date_precision == _DAY) or not end else end,
        "date_precision": date_precision,
        "place_name": event["where_coordinates"],
        "admin1": event["adm_1"],
        "admin2": event["adm_2"],
        "country": country or event["iso3"] or event["country"],
        "latitude": event["latitude"] or None,
        "longitude": event["longitude"] or None,
        "location_precision": _WHERE_VALUES.get(where_code or 0, _COUNTRY),
        "perpetrators": side_a if one_sided else _joined("; ", side_a, side_b),
        "victims": side_b if one_sided else "",
        "verification_grade": _grade(event["number_of_sources"], event["event_clarity"]),
        "citations": [_citation(event, claim, per_side)],
        "estimates": [{"category": "killed", "best": event["best"]}],
    }
    columns = _columns(tuple(count is not None for count in per_side))
    record = ImportRecord(row, event_id, data, columns, problems)
    record.digest = content_digest(event[name] for name in _READ)
    return record


# The steps of _record, each called once per event.


def _date_precision(row: int, date_code: int | None, start: str, end: str, problems: list[Problem]) -> str:
    """The precision date_prec stands for; a span of days where an exact day lasts several."""
    date_precision = _DATE_VALUES.get(date_code or 0, _DAY)
    if date_precision == _DAY and start and end and end > start and _is_day(start) and _is_day(end):
        # An exact day that lasts several: the days are known, the event spans them.
        problems.append(
            Problem(
                row,
                "date_prec",
                f"date_prec 1 (an exact day), but the event runs from {start} to {end}: recorded as a span "
                "of days.",
                Severity.WARNING,
            )
        )
        return _SPAN
    return date_precision


def _country(row: int, event: dict[str, str], problems: list[Problem]) -> str | None:
    """The ISO code of iso3, else of the country's name; None (and a problem) when neither names one."""
    country = country_code(event["iso3"]) or country_code(event["country"])
    if country is None:
        shown = event["iso3"] or event["country"]
        problems.append(Problem(row, "country", f"{shown!r} names no country we know (ISO 3166-1)."))
    return country


def _title(event: dict[str, str]) -> str:
    """The dyad (or the sides), the deaths and the place: "A – B: 3 killed, Place"."""
    dyad = event["dyad_name"] or _joined(" – ", event["side_a"], event["side_b"])
    place = event["where_coordinates"]
    title = f"{dyad or 'UCDP event ' + event['id']}: {event['best']} killed" + (f", {place}" if place else "")
    return cut(title, 300)


def _event_claim(row: int, event: dict[str, str], problems: list[Problem]) -> dict[str, str]:
    """The claim of killed for the whole event: low–high, widened to take in the best estimate."""
    low, high, best = event["low"], event["high"], event["best"]
    figures = _figures(low, best, high)
    if figures is not None and (figures[0], figures[1]) != (low, high):
        problems.append(
            Problem(
                row,
                "best",
                f"UCDP's best estimate ({best}) lies outside its low–high range ({low}–{high}): the claim is "
                f"recorded as {figures[0]}–{figures[1]}, and the figures as given are kept in the narrative.",
                Severity.WARNING,
            )
        )
        low, high = figures
    return {"category": "killed", "low": low, "high": high}


def _deaths_per_side(
    row: int, event: dict[str, str], one_sided: bool, problems: list[Problem]
) -> list[str | None]:
    """_check_deaths, without side B's 0 in one-sided violence."""
    per_side = _check_deaths(row, event, problems)
    if one_sided and per_side[1] == "0":
        # One-sided violence: side B is the civilians, whose deaths UCDP counts in deaths_civilians and
        # whose deaths_b is always 0. A group "Civilians (side B)": 0 beside "civilians": 6 would read as a
        # contradiction.
        per_side[1] = None
    return per_side


def _take_in_deaths_per_side(
    row: int, claim: dict[str, str], per_side: list[str | None], problems: list[Problem]
) -> None:
    """Raise the whole event's claim to the deaths per side where they add up to more than its high."""
    side_total = sum(int(count) for count in per_side if count is not None)
    low, high = claim["low"], claim["high"]
    # Not when low is above high (the schema says so), nor beyond the largest count (refused as such).
    if _whole(low) and _whole(high) and int(low) <= int(high) < side_total <= MAX_INT:
        problems.append(
            Problem(
                row,
                "high",
                f"UCDP's deaths per side add up to {side_total}, above its high estimate ({high}): the "
                f"claim for the whole event is recorded as {low}–{side_total}, and the figures as given are "
                "kept in the narrative.",
                Severity.WARNING,
            )
        )
        claim["high"] = str(side_total)


def _narrative(event: dict[str, str], where_code: int | None, date_code: int | None) -> str:
    """The event as UCDP coded it: sides, deaths, location and date codes, sources."""
    event_id, side_a, side_b = event["id"], event["side_a"], event["side_b"]
    violence = UCDP_TYPE_OF_VIOLENCE.get(event["type_of_violence"], "")
    conflict = event["conflict_name"]
    narrative = [
        f"UCDP GED event {event_id}"
        + (f", {violence}" if violence else "")
        + (f" ({conflict})" if conflict else "")
        + ".",
        f"Side A: {side_a or 'not given'}. Side B: {side_b or 'not given'}.",
        f"Deaths as coded by UCDP: side A {event['deaths_a'] or '?'}, side B {event['deaths_b'] or '?'}, "
        f"civilians {event['deaths_civilians'] or '?'}, unknown {event['deaths_unknown'] or '?'}; "
        f"low {event['low'] or '?'}, best {event['best'] or '?'}, high {event['high'] or '?'}.",
    ]
    if where_code is not None:
        narrative.append(
            f"Location as coded by UCDP: {event['where_coordinates'] or 'no place name'} (where_prec "
            f"{where_code}: {UCDP_WHERE_MEANING[where_code]})."
        )
    if date_code is not None and date_code != 1:
        narrative.append(f"Date as coded by UCDP: date_prec {date_code}: {UCDP_DATE_MEANING[date_code]}.")
    sources_text = event["source_article"]
    if sources_text:
        narrative.append(f"Sources cited by UCDP: {sources_text}")
    narrative.append("From the UCDP Georeferenced Event Dataset (CC BY 4.0).")
    return "\n\n".join(narrative)


def _citation(event: dict[str, str], claim: dict[str, str], per_side: list[str | None]) -> dict[str, Any]:
    """The event's source (or the GED's), with the whole event's claim and one per side's deaths."""
    side_a, side_b = event["side_a"], event["side_b"]
    return {
        # A copy: the same text makes the same source, and each record's data is its own.
        "source": dict(
            _source(
                event["source_article"],
                event["source_office"],
                event["source_date"],
                event["source_headline"],
            )
        ),
        "claims": [
            claim,
            *(
                {"category": "killed", "low": count, "high": count, "group": group}
                for group, count in zip(_groups(side_a, side_b), per_side, strict=True)
                if count is not None
            ),
        ],
    }


def _joined(separator: str, first: str, second: str) -> str:
    """The two, or the one given, or ""."""
    return f"{first}{separator}{second}" if first and second else first or second


def _figures(low: str, best: str, high: str) -> tuple[str, str] | None:
    """The claim's range when UCDP's best lies outside low–high (aggregated events give 0–0 with a best of
    3): widened to take in the best estimate, never narrowed. None when the figures are not whole numbers or
    low is above high: the schema reports those as they are.
    """
    if not (_whole(low) and _whole(best) and _whole(high)):
        return None
    low_n, best_n, high_n = int(low), int(best), int(high)
    if low_n > high_n or low_n <= best_n <= high_n:
        return None
    return str(min(low_n, best_n)), str(max(high_n, best_n))


_SIGNED_WHOLE = re.compile(r"-?[0-9]+")


def _whole(text: str) -> bool:
    """Digits 0-9 only ("²".isdigit() is true, and int() refuses it)."""
    return text.isascii() and text.isdigit()


def _is_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=16)
def _columns(present: tuple[bool, ...]) -> dict[str, str]:
    """COLUMNS, and the columns of the claims per side, numbered after the whole event's claim, for the
    per-side deaths present."""
    columns = dict(COLUMNS)
    claims = (column for column, given in zip(_DEATHS, present, strict=True) if given)
    for index, column in enumerate(claims, start=1):
        prefix = f"citations.0.claims.{index}"
        columns[prefix] = column
        # The group is named after the side.
        side = {"deaths_a": "side_a", "deaths_b": "side_b"}.get(column)
        if side:
            columns[f"{prefix}.group"] = side
    return columns


@functools.lru_cache(maxsize=1024)
def _groups(side_a: str, side_b: str) -> tuple[str, str, str, str]:
    """The groups of deaths_a, deaths_b, deaths_civilians and deaths_unknown, as a claim names them."""
    # A long name is cut, never its side: two long names with one beginning stay two groups.
    return (
        cut(side_a, 200 - len(" (side A)")) + " (side A)" if side_a else "side A",
        cut(side_b, 200 - len(" (side B)")) + " (side B)" if side_b else "side B",
        "civilians",
        "unknown status",
    )


def _check_deaths(row: int, event: dict[str, str], problems: list[Problem]) -> list[str | None]:
    """The per-side deaths as given, None where empty or wrong: whole numbers, not negative, adding up to
    UCDP's best estimate (as the codebook defines it)."""
    counts: list[str | None] = []
    total = 0
    for column in _DEATHS:
        text = event[column]
        counts.append(None)
        if not text:
            total = -1
            continue
        if not _SIGNED_WHOLE.fullmatch(text):  # not int(): it reads "1_0", " 5" and "٦" too
            problems.append(Problem(row, column, f"{text!r} is not a whole number of deaths."))
            total = -1
            continue
        count = int(text)
        if count < 0:
            problems.append(Problem(row, column, f"{count} deaths: a count cannot be negative."))
            total = -1
            continue
        counts[-1] = str(count)
        if total >= 0:
            total += count
    best = event["best"]
    if total >= 0 and _whole(best) and int(best) != total:
        problems.append(
            Problem(
                row,
                "best",
                f"UCDP's best estimate ({best}) is not the sum of its per-side deaths ({total}).",
                Severity.WARNING,
            )
        )
    return counts


def _grade(number_of_sources: str, event_clarity: str) -> str:
    """fair: two or more sources and UCDP finds the event clear; weak otherwise (one source, or unknown)."""
    try:
        sources = int(number_of_sources)
    except ValueError:
        sources = -1
    return "fair" if sources >= 2 and event_clarity.strip() == "1" else "weak"


@functools.lru_cache(maxsize=4096)
def _source(article: str, office: str, date: str, headline: str) -> dict[str, Any]:
    if not (article or office or headline):
        return dict(GED_SOURCE)
    dates = [part.strip() for part in date.split(";") if part.strip()]
    return {
        "title": cut(headline or article, 500),
        "kind": (SourceKind.PRESS if office or headline else SourceKind.OTHER).value,
        "publisher": cut(office, 300),
        # Several articles have several dates: no one of them is the source's.
        "publication_date": iso_date(dates[0]) if len(dates) == 1 else None,
    }

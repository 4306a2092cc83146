"""ACLED CSV exports: one event (event_id_cnty), one incident.

time_precision 1/2/3 → day / week / month (a week or month as a span around ACLED's mid-point date);
geo_precision 1/2/3 → near / near / admin-1; fatalities → one claim of killed from the event's sources;
sub_event_type (and fatalities) → our incident type, see formats.event_types.
"""

from __future__ import annotations

import datetime as dt
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
from incidents.importing.formats.event_types import acled_type
from incidents.importing.formats.precision_codes import ACLED_GEO_PRECISION, ACLED_TIME_PRECISION, read_code
from incidents.importing.reading import CsvTable, FileError, refuse_repeated
from incidents.importing.report import Problem
from incidents.vocabulary import DatePrecision, SourceKind

FORMAT = "acled"
DATASET = "acled"
# The columns an event is read from.
_READ = (
    "event_id_cnty", "event_date", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "actor2", "assoc_actor_2", "country", "iso", "admin1", "admin2", "admin3",
    "location", "latitude", "longitude", "geo_precision", "source", "source_scale", "notes", "fatalities",
)  # fmt: skip

REQUIRED = (
    "event_id_cnty",
    "event_date",
    "time_precision",
    "event_type",
    "sub_event_type",
    "country",
    "location",
    "latitude",
    "longitude",
    "geo_precision",
    "source",
    "fatalities",
)
SIGNATURE = {"event_id_cnty", "event_date", "sub_event_type"}

COLUMNS: dict[str, str] = {
    "external_id": "event_id_cnty",
    "title": "sub_event_type",
    "narrative": "notes",
    "types": "sub_event_type",
    "start_date": "event_date",
    "end_date": "event_date",
    "date_precision": "time_precision",
    "place_name": "location",
    "admin1": "admin1",
    "admin2": "admin2",
    "country": "iso",
    "latitude": "latitude",
    "longitude": "longitude",
    "location_precision": "geo_precision",
    "perpetrators": "actor1",
    "victims": "actor2",
    "citations": "source",
    "citations.0.claims": "fatalities",
}


class AcledReader(CsvRecordReader):
    format = FORMAT
    dataset = DATASET

    def __init__(self, table: CsvTable, type_overrides: dict[str, str] | None = None) -> None:
        missing = [name for name in REQUIRED if name not in table.header]
        if missing:
            raise FileError(f"This ACLED file lacks the column(s) {', '.join(missing)}.", row=1)
        refuse_repeated(table.header, _READ)
        super().__init__(table)
        self._types = type_overrides or {}

    def record(self, row: int, cells: list[str]) -> ImportRecord:
        return acled_record(row, self.values(cells), self._types)


def _event_date(text: str) -> str:
    """ISO for "2023-01-09" and for the "09 January 2023" of ACLED's older exports; else the text as given."""
    value = text.strip()
    for pattern in ("%d %B %Y", "%d-%B-%Y", "%d %b %Y"):
        try:
            return dt.datetime.strptime(value, pattern).date().isoformat()
        except ValueError:
            continue
    return iso_date(value)


def acled_record(row: int, values: dict[str, str], type_overrides: dict[str, str]) -> ImportRecord:
    problems: list[Problem] = []
    event_id = _get(values, "event_id_cnty")
    if not event_id:
        problems.append(Problem(row, "event_id_cnty", "Empty: every ACLED event has an id."))
    time_code = read_code(
        _get(values, "time_precision"),
        ACLED_TIME_PRECISION,
        "an ACLED time precision",
        row,
        "time_precision",
        problems,
    )
    geo_code = read_code(
        _get(values, "geo_precision"),
        ACLED_GEO_PRECISION,
        "an ACLED geo precision",
        row,
        "geo_precision",
        problems,
    )
    date_precision = ACLED_TIME_PRECISION.get(time_code or 1, DatePrecision.DAY)
    start, end = _period(_event_date(_get(values, "event_date")), date_precision)
    fatalities_text = _get(values, "fatalities")
    try:
        fatalities: int | None = int(fatalities_text)
    except ValueError:
        fatalities = None  # the schema reports it
    sub_event = _get(values, "sub_event_type")
    slug = _type(row, sub_event, fatalities, type_overrides, problems)
    country = country_code(_get(values, "iso")) or country_code(_get(values, "country"))

    # In protest events ACLED codes the protesters as actor1 and the force that intervened as actor2.
    actor1 = _actors(_get(values, "actor1"), _get(values, "assoc_actor_1"))
    actor2 = _actors(_get(values, "actor2"), _get(values, "assoc_actor_2"))
    protest = _get(values, "event_type") == "Protests"
    perpetrators, victims = (actor2, actor1) if protest else (actor1, actor2)

    source_text = _get(values, "source")
    outlets = [part.strip() for part in source_text.split(";") if part.strip()]
    location = _get(values, "location")
    data: dict[str, Any] = {
        "title": cut(_title(sub_event, _get(values, "event_type"), location, fatalities), 300),
        "narrative": _narrative(values, event_id, sub_event),
        "types": [slug] if slug else [],
        "start_date": start,
        "end_date": end,
        "date_precision": date_precision.value,
        "place_name": location,
        "admin1": _get(values, "admin1"),
        "admin2": _get(values, "admin2"),
        "country": country or _get(values, "iso") or _get(values, "country"),
        "latitude": _get(values, "latitude") or None,
        "longitude": _get(values, "longitude") or None,
        "location_precision": ACLED_GEO_PRECISION[geo_code or 1].value,
        "perpetrators": cut(perpetrators, 500),
        "victims": cut(victims, 500),
        "verification_grade": "fair" if len(outlets) >= 2 else "weak",
        "citations": _citations(source_text, fatalities_text),
    }
    if not source_text:
        problems.append(Problem(row, "source", "Empty: every ACLED event names its source."))
    record = ImportRecord(row, event_id, data, COLUMNS, problems)
    # The columns read, in one order: the same event in an export with other columns has the same digest.
    record.digest = content_digest((values.get(name) or "").strip() for name in _READ)
    return record


# The steps of acled_record, each called once per event.


def _get(values: dict[str, str], name: str) -> str:
    """A column's value, stripped ("" when absent)."""
    return (values.get(name) or "").strip()


def _period(start: str, date_precision: DatePrecision) -> tuple[str, str | None]:
    """Start and end: a week or a month as a span around ACLED's date, a day as itself."""
    try:
        day = dt.date.fromisoformat(start)
    except ValueError:
        return start, None  # the schema reports the date
    if date_precision == DatePrecision.WEEK:
        return (day - dt.timedelta(days=3)).isoformat(), (day + dt.timedelta(days=3)).isoformat()
    if date_precision == DatePrecision.MONTH:
        first, last = month_span(day)
        return first.isoformat(), last.isoformat()
    return start, None


def _type(
    row: int, sub_event: str, fatalities: int | None, type_overrides: dict[str, str], problems: list[Problem]
) -> str | None:
    """Our incident type for the sub-event type; None, with a problem, when there is none."""
    slug = acled_type(sub_event, fatalities, type_overrides)
    if slug is None:
        problems.append(
            Problem(
                row,
                "sub_event_type",
                f"ACLED’s {sub_event!r}"
                + (" without fatalities" if sub_event and fatalities == 0 else "")
                + " has no incident type here: map it in a mapping file "
                '({"values": {"types": {"'
                + sub_event
                + '": "<type>"}}}), or import the valid rows only to leave such rows out.',
            )
        )
    return slug


def _actors(actor: str, associated: str) -> str:
    """An actor and its associated actors, "; " between."""
    return "; ".join(part for part in (actor, associated) if part)


def _title(sub_event: str, event_type: str, location: str, fatalities: int | None) -> str:
    """ "Sub-event type: Location (3 killed)"."""
    title = sub_event or event_type or "ACLED event"
    title += f": {location}" if location else ""
    if fatalities:
        title += f" ({fatalities} killed)"
    return title


def _narrative(values: dict[str, str], event_id: str, sub_event: str) -> str:
    """ACLED's notes, and how it coded the event."""
    notes = _get(values, "notes")
    narrative = [notes] if notes else []
    disorder_type = _get(values, "disorder_type")
    admin3 = _get(values, "admin3")
    source_scale = _get(values, "source_scale")
    narrative.append(
        f"ACLED event {event_id}: {_get(values, 'event_type')} / {sub_event}"
        + (f"; {disorder_type}" if disorder_type else "")
        + (f"; admin-3 {admin3}" if admin3 else "")
        + (f"; source scale {source_scale}" if source_scale else "")
        + "."
    )
    return "\n\n".join(narrative)


def _citations(source_text: str, fatalities_text: str) -> list[dict[str, Any]]:
    """The event's sources as one source, claiming its fatalities; none without a source."""
    if not source_text:
        return []
    return [
        {
            "source": {
                "title": cut(source_text, 500),
                "kind": SourceKind.PRESS.value,
                "publisher": cut(source_text, 300),
            },
            "claims": [{"category": "killed", "low": fatalities_text}],
        }
    ]

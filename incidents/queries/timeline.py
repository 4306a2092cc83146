"""The timeline: incidents in date order, and counts of incidents and people per week (or month).

An incident known to the day, a span of days or a week is counted in the week it began. One known only to
the month or the year is not forced into a week: it is counted in a band over its whole month (or year).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from incidents.domain.dating import covered_days, week_start
from incidents.extensions import db
from incidents.models import Incident
from incidents.queries.map_view import MAP_CATEGORIES, incident_types_of
from incidents.queries.selection import incident_conditions
from incidents.queries.shown import location_columns
from incidents.vocabulary import CasualtyCategory, DatePrecision

LIST_LIMIT = 300  # incidents listed and drawn one by one; the chart counts them all
MAX_WEEKS = 160  # a longer timeline is counted per month
_COARSE = (DatePrecision.MONTH, DatePrecision.YEAR)

Ranges = dict[str, tuple[int, int]]


@dataclass
class Period:
    """A week or a month of the chart."""

    first: dt.date
    last: dt.date
    count: int = 0
    ranges: Ranges = field(default_factory=dict)


@dataclass
class Band:
    """Incidents known only to a month (or a year), counted over that whole period."""

    first: dt.date
    last: dt.date
    precision: DatePrecision
    count: int = 0
    ranges: Ranges = field(default_factory=dict)


@dataclass
class Series:
    unit: str  # "week" or "month"
    periods: list[Period]
    bands: list[Band]


def _add(ranges: Ranges, row: Any) -> None:
    for category in MAP_CATEGORIES:
        high = row._mapping[f"{category.value}_high"]
        if high:
            low = row._mapping[f"{category.value}_low"] or 0
            old_low, old_high = ranges.get(category.value, (0, 0))
            ranges[category.value] = (old_low + int(low), old_high + int(high))


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def series(filters: dict[str, Any], *, staff: bool) -> Series:
    """Counts and casualty sums per week (per month over long spans), and bands for coarse dates."""
    conditions = incident_conditions(filters, staff=staff)
    sums = [
        sa.func.count().label("incident_count"),
        *(
            sa.func.sum(getattr(Incident, f"{c.value}_{end}")).label(f"{c.value}_{end}")
            for c in MAP_CATEGORIES
            for end in ("low", "high")
        ),
    ]
    precise = db.session.execute(
        sa.select(Incident.start_date, sa.func.max(Incident.end_date).label("last_end"), *sums)
        .where(*conditions, Incident.date_precision.not_in(_COARSE))
        .group_by(Incident.start_date)
        .order_by(Incident.start_date)
    ).all()
    coarse = db.session.execute(
        sa.select(Incident.start_date, Incident.end_date, Incident.date_precision, *sums)
        .where(*conditions, Incident.date_precision.in_(_COARSE))
        .group_by(Incident.start_date, Incident.end_date, Incident.date_precision)
    ).all()
    bands: dict[tuple[dt.date, dt.date], Band] = {}
    for row in coarse:
        first, last = covered_days(row.start_date, row.end_date, row.date_precision)
        band = bands.setdefault((first, last), Band(first, last, DatePrecision(row.date_precision)))
        band.count += row.incident_count
        _add(band.ranges, row)
    # The chart runs to the last day any incident may cover, so that a curfew is drawn to its end.
    days = [row.start_date for row in precise] + [row.last_end for row in precise if row.last_end]
    days += [b.first for b in bands.values()] + [b.last for b in bands.values()]
    if not days:
        return Series("week", [], [])
    first, last = min(days), max(days)
    unit = "week" if (last - first).days <= MAX_WEEKS * 7 else "month"
    periods: list[Period] = []
    if unit == "week":
        start = week_start(first)
        while start <= last:
            periods.append(Period(start, start + dt.timedelta(days=6)))
            start += dt.timedelta(days=7)
    else:
        start = _month_start(first)
        while start <= last:
            periods.append(Period(start, _next_month(start) - dt.timedelta(days=1)))
            start = _next_month(start)
    origin = periods[0].first
    for row in precise:  # counted in the period each incident began
        if unit == "week":
            index = (row.start_date - origin).days // 7
        else:
            index = (row.start_date.year - origin.year) * 12 + row.start_date.month - origin.month
        periods[index].count += row.incident_count
        _add(periods[index].ranges, row)
    return Series(unit, periods, sorted(bands.values(), key=lambda b: (b.first, b.last)))


def chronological(filters: dict[str, Any], *, staff: bool, limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    """The first incidents in date order, as plain records with their types and ranges."""
    conditions = incident_conditions(filters, staff=staff)
    columns = [
        Incident.id,
        Incident.public_id,
        Incident.title,
        Incident.start_date,
        Incident.end_date,
        Incident.date_precision,
        *location_columns(staff=staff),
        Incident.admin1,
        Incident.country,
        Incident.verification_grade,
        Incident.source_count,
        *(getattr(Incident, f"{c.value}_{end}") for c in CasualtyCategory for end in ("low", "high")),
    ]
    rows = db.session.execute(
        sa.select(*columns).where(*conditions).order_by(Incident.start_date, Incident.id).limit(limit)
    ).all()
    types = incident_types_of([row.id for row in rows])
    records = []
    for row in rows:
        record = dict(row._mapping)
        record["types"] = types.get(row.id, [])
        record["ranges"] = {
            c.value: (record[f"{c.value}_low"] or 0, record[f"{c.value}_high"])
            for c in CasualtyCategory
            if record[f"{c.value}_high"] is not None
        }
        record["first_day"], record["last_day"] = covered_days(
            row.start_date, row.end_date, row.date_precision
        )
        records.append(record)
    return records

"""Dates as precise as the sources make them, and no more: "January 2023", not 2023-01-01."""

from __future__ import annotations

import calendar
import datetime as dt

from incidents.vocabulary import DatePrecision


def _day(day: dt.date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"


def _month(day: dt.date) -> str:
    return f"{calendar.month_name[day.month]} {day.year}"


def date_label(start: dt.date, end: dt.date | None, precision: DatePrecision | str) -> str:
    """A date or span written at its precision: "9 January 2023", "10–13 January 2023", "January 2023"."""
    precision = DatePrecision(precision)
    if precision == DatePrecision.YEAR:
        if end is not None and end.year != start.year:
            return f"{start.year}–{end.year}"
        return str(start.year)
    if precision == DatePrecision.MONTH:
        if end is not None and (end.year, end.month) != (start.year, start.month):
            return f"{_month(start)} – {_month(end)}"
        return _month(start)
    if precision == DatePrecision.WEEK and (end is None or end == start):
        return f"the week of {_day(start)}"
    if end is None or end == start:
        return _day(start)
    if (start.year, start.month) == (end.year, end.month):
        return f"{start.day}–{end.day} {calendar.month_name[end.month]} {end.year}"
    if start.year == end.year:
        return f"{start.day} {calendar.month_name[start.month]} – {_day(end)}"
    return f"{_day(start)} – {_day(end)}"


def covered_days(
    start: dt.date, end: dt.date | None, precision: DatePrecision | str
) -> tuple[dt.date, dt.date]:
    """The first and last day an incident may fall on, given its precision (known to the month: the month)."""
    precision = DatePrecision(precision)
    last = end or start
    if precision == DatePrecision.YEAR:
        return dt.date(start.year, 1, 1), dt.date(last.year, 12, 31)
    if precision == DatePrecision.MONTH:
        days_in_month = calendar.monthrange(last.year, last.month)[1]
        return start.replace(day=1), last.replace(day=days_in_month)
    if precision == DatePrecision.WEEK and end is None:
        return start, start + dt.timedelta(days=6)
    return start, last


def week_start(day: dt.date) -> dt.date:
    """The Monday of day's ISO week."""
    return day - dt.timedelta(days=day.weekday())

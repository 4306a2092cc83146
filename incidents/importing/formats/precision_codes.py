"""UCDP and ACLED precision codes on our scales, never finer than the source says.

Our location scale has no level between admin-1 and the country, and none for water or airspace: UCDP's
where_prec 5 and 7 become "country", the next coarser level we have, and the narrative keeps the code.
"""

from __future__ import annotations

from collections.abc import Mapping

from incidents.importing.report import Problem
from incidents.vocabulary import DatePrecision, LocationPrecision

UCDP_DATE_PRECISION = {
    1: DatePrecision.DAY,
    2: DatePrecision.SPAN,  # 2–6 days
    3: DatePrecision.WEEK,
    4: DatePrecision.MONTH,
    5: DatePrecision.YEAR,
}

UCDP_WHERE_PRECISION = {
    1: LocationPrecision.EXACT,
    2: LocationPrecision.NEAR,  # within about 25 km of a known place
    3: LocationPrecision.ADMIN2,
    4: LocationPrecision.ADMIN1,
    5: LocationPrecision.COUNTRY,  # larger than admin-1, smaller than the country, or vague
    6: LocationPrecision.COUNTRY,
    7: LocationPrecision.COUNTRY,  # in water or international airspace
}

UCDP_WHERE_MEANING = {
    1: "exact location",
    2: "within about 25 km of a known place",
    3: "admin-2 region",
    4: "admin-1 region",
    5: "larger than an admin-1 region but smaller than the country, or vague",
    6: "country",
    7: "in water or international airspace",
}

UCDP_DATE_MEANING = {
    1: "exact day",
    2: "a span of 2–6 days",
    3: "a known week",
    4: "a known month",
    5: "a known year",
}

ACLED_TIME_PRECISION = {
    1: DatePrecision.DAY,
    2: DatePrecision.WEEK,  # ACLED gives the middle of the week: we keep the week, as a span
    3: DatePrecision.MONTH,  # ACLED gives the middle of the month: we keep the month, as a span
}

ACLED_GEO_PRECISION = {
    # A particular town with known coordinates: the coordinates are the town's, not the spot's.
    1: LocationPrecision.NEAR,
    # Near a town or a small part of a region, coded to the town.
    2: LocationPrecision.NEAR,
    # A larger region, coded to its capital or a natural feature.
    3: LocationPrecision.ADMIN1,
}

# Coarse to fine, for "never finer than the source says".
_LOCATION_ORDER = [
    LocationPrecision.COUNTRY,
    LocationPrecision.ADMIN1,
    LocationPrecision.ADMIN2,
    LocationPrecision.NEAR,
    LocationPrecision.EXACT,
]


def coarser(a: LocationPrecision, b: LocationPrecision) -> LocationPrecision:
    """The less precise of two location precisions."""
    return a if _LOCATION_ORDER.index(a) <= _LOCATION_ORDER.index(b) else b


def read_code(
    text: str, table: Mapping[int, object], what: str, row: int, column: str, problems: list[Problem]
) -> int | None:
    """code(), with a problem added for the row when the text is none of the table's codes."""
    number = code(text, table)
    if number is None:
        problems.append(Problem(row, column, f"{text!r} is not {what} ({min(table)}–{max(table)})."))
    return number


def code(text: str, table: Mapping[int, object]) -> int | None:
    """A precision code as an int ("2", " 2 ", "2.0"), or None when it is not one of the table's."""
    value = text.strip()
    if value.endswith(".0"):
        value = value[:-2]
    if not (value.isascii() and value.isdigit()):  # "²" and "٣" are digits to Python, and no code
        return None
    number = int(value)
    return number if number in table else None

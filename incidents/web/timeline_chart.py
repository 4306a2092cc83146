"""The timeline chart as SVG shapes, computed here and drawn by the template (no script needed).

Rows, top to bottom: incidents per period; killed, injured and detained per period (the low figure solid,
the high one lighter behind it, since sources disagree); incidents known only to a month or a year, as
bands over that whole period; and the listed incidents themselves, each drawn from its first to its last
possible day, so that a curfew is a span and a month-precision incident covers its month.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from incidents.domain.casualties import figure
from incidents.domain.dating import date_label
from incidents.queries.map_view import MAP_CATEGORIES
from incidents.queries.timeline import Band, Period, Series
from incidents.vocabulary import DatePrecision
from incidents.web.map_style import primary_type, type_colour

WIDTH = 1000
LEFT = 130
RIGHT = 10
COUNT_HEIGHT = 70
CASUALTY_HEIGHT = 40
GAP = 14
LANE = 11
MAX_LANES = 40


@dataclass
class Shape:
    x: float
    y: float
    width: float
    height: float
    css: str
    fill: str | None = None
    title: str = ""
    href: str | None = None
    text: str = ""


@dataclass
class Column:
    href: str
    title: str
    x: float
    width: float
    shapes: list[Shape] = field(default_factory=list)


@dataclass
class Chart:
    height: float
    unit: str
    columns: list[Column] = field(default_factory=list)
    shapes: list[Shape] = field(default_factory=list)
    labels: list[Shape] = field(default_factory=list)
    not_drawn: int = 0
    width: int = WIDTH


def _summary(count: int, ranges: dict[str, tuple[int, int]]) -> str:
    parts = [f"{count} incident{'s' if count != 1 else ''}"]
    parts += [f"{c.label} {figure(*ranges[c.value])}" for c in MAP_CATEGORIES if c.value in ranges]
    return "; ".join(parts)


def _pack(spans: list[tuple[float, float]]) -> list[int | None]:
    """A lane for each span (in order), none past MAX_LANES."""
    ends: list[float] = []
    lanes: list[int | None] = []
    for x1, x2 in spans:
        for lane, end in enumerate(ends):
            if end + 1 <= x1:
                ends[lane] = x2
                lanes.append(lane)
                break
        else:
            if len(ends) < MAX_LANES:
                ends.append(x2)
                lanes.append(len(ends) - 1)
            else:
                lanes.append(None)
    return lanes


def build_chart(
    data: Series,
    incidents: list[dict[str, Any]],
    period_link: Callable[[dt.date, dt.date], str],
    incident_link: Callable[[str], str],
) -> Chart | None:
    if not data.periods:
        return None
    origin = data.periods[0].first
    end = data.periods[-1].last + dt.timedelta(days=1)
    total_days = max((end - origin).days, 1)
    x = _x_scale(origin, total_days)
    chart = Chart(height=0, unit=data.unit)
    tops, bars_bottom = _draw_rows(chart, data)
    for period in data.periods:
        chart.columns.append(_column(data.unit, period, tops, bars_bottom, x, period_link))
    y = bars_bottom + GAP
    if data.bands:
        y = _draw_bands(chart, data.bands, y, x, period_link)
    if incidents:
        y = _draw_incidents(chart, incidents, y, x, incident_link)
    _draw_month_ticks(chart, origin, end, total_days, y, x)
    chart.height = y + 20
    return chart


# The rows of bars: key, label, height.
_ROWS = [("incidents", "Incidents", COUNT_HEIGHT)] + [
    (c.value, c.label.capitalize(), CASUALTY_HEIGHT) for c in MAP_CATEGORIES
]


def _x_scale(origin: dt.date, total_days: int) -> Callable[[dt.date], float]:
    """Where a day is across the plot, days before or after it drawn at its edge."""
    plot = WIDTH - LEFT - RIGHT

    def x(day: dt.date) -> float:
        days = min(max((day - origin).days, 0), total_days)
        return LEFT + days / total_days * plot

    return x


def _draw_rows(chart: Chart, data: Series) -> tuple[dict[str, float], float]:
    """Each row of bars' label, highest figure and baseline. The top of each row by key, and its highest
    figure by key + ":max"; and the bottom of the last row."""
    plot = WIDTH - LEFT - RIGHT
    y = 20.0
    tops: dict[str, float] = {}
    for key, label, height in _ROWS:
        tops[key] = y
        highest = max(
            (p.count if key == "incidents" else p.ranges.get(key, (0, 0))[1] for p in data.periods), default=0
        )
        chart.labels.append(Shape(8, y + height / 2 + 4, 0, 0, "row-label", text=label))
        chart.labels.append(Shape(LEFT - 6, y + 9, 0, 0, "row-max", text=str(highest) if highest else ""))
        chart.shapes.append(Shape(LEFT, y + height, plot, 0.5, "baseline"))
        y += height + GAP
        tops[key + ":max"] = float(highest)
    return tops, y - GAP


def _column(
    unit: str,
    period: Period,
    tops: dict[str, float],
    bars_bottom: float,
    x: Callable[[dt.date], float],
    period_link: Callable[[dt.date, dt.date], str],
) -> Column:
    """A period's column: a link over the whole height, and its bars in each row."""
    x1, x2 = x(period.first), x(period.last + dt.timedelta(days=1))
    width = max(x2 - x1 - 1, 1)
    when = (
        f"Week of {date_label(period.first, None, DatePrecision.DAY)}"
        if unit == "week"
        else (date_label(period.first, None, DatePrecision.MONTH))
    )
    column = Column(
        period_link(period.first, period.last),
        f"{when}: {_summary(period.count, period.ranges)}",
        x1,
        width,
    )
    column.shapes.append(Shape(x1, 20, width, bars_bottom - 20, "hit"))
    for key, _, height in _ROWS:
        most = tops[key + ":max"]
        if most:
            column.shapes.extend(_bars(key, period, most, tops[key] + height, height, x1, width))
    return column


def _bars(
    key: str, period: Period, most: float, bottom: float, height: float, x1: float, width: float
) -> list[Shape]:
    """A period's bars in one row: its count of incidents; or the high figure, and the low one before it."""
    if key == "incidents":
        h = period.count / most * height
        return [Shape(x1, bottom - h, width, h, "bar bar-incidents")] if h else []
    bars = []
    low, high = period.ranges.get(key, (0, 0))
    if high:
        h = high / most * height
        bars.append(Shape(x1, bottom - h, width, h, f"bar bar-{key} bar-high"))
    if low:
        h = low / most * height
        bars.append(Shape(x1, bottom - h, width, h, f"bar bar-{key} bar-low"))
    return bars


def _draw_bands(
    chart: Chart,
    bands: list[Band],
    y: float,
    x: Callable[[dt.date], float],
    period_link: Callable[[dt.date, dt.date], str],
) -> float:
    """The incidents known only to a month or a year, as bands over that period, in lanes from y; the y
    below them."""
    chart.labels.append(Shape(8, y + 10, 0, 0, "row-label", text="Month or year only"))
    spans = [(x(b.first), x(b.last + dt.timedelta(days=1))) for b in bands]
    lanes = _pack(spans)
    used = 0
    for band, (x1, x2), lane in zip(bands, spans, lanes, strict=True):
        if lane is None:
            continue
        used = max(used, lane + 1)
        known = date_label(band.first, band.last, band.precision)
        chart.shapes.append(
            Shape(
                x1,
                y + lane * (LANE + 2),
                max(x2 - x1, 2),
                LANE,
                "band",
                title=f"Known only to the {band.precision.value}: {known}. "
                + _summary(band.count, band.ranges),
                href=period_link(band.first, band.last),
                text=str(band.count) if x2 - x1 > 14 else "",
            )
        )
    return y + (used * (LANE + 2) + GAP)


def _draw_incidents(
    chart: Chart,
    incidents: list[dict[str, Any]],
    y: float,
    x: Callable[[dt.date], float],
    incident_link: Callable[[str], str],
) -> float:
    """The listed incidents, each from its first to its last possible day, in lanes from y (those past the
    last lane counted as not drawn); the y below them."""
    chart.labels.append(Shape(8, y + 10, 0, 0, "row-label", text="Incidents"))
    spans = [(x(r["first_day"]), x(r["last_day"] + dt.timedelta(days=1))) for r in incidents]
    spans = [(x1, max(x2, x1 + 3)) for x1, x2 in spans]
    lanes = _pack(spans)
    used = 0
    for record, (x1, x2), lane in zip(incidents, spans, lanes, strict=True):
        if lane is None:
            chart.not_drawn += 1
            continue
        used = max(used, lane + 1)
        precision = DatePrecision(record["date_precision"])
        slug = primary_type(slug for slug, _ in record["types"])
        css = "span uncertain" if precision in (DatePrecision.MONTH, DatePrecision.YEAR) else "span"
        when = date_label(record["start_date"], record["end_date"], precision)
        chart.shapes.append(
            Shape(
                x1,
                y + lane * (LANE + 2),
                x2 - x1,
                LANE,
                css,
                fill=type_colour(slug),
                title=f"{record['title']} ({when}; date precision: {precision.label})",
                href=incident_link(record["public_id"]),
            )
        )
    return y + (used * (LANE + 2) + GAP)


def _draw_month_ticks(
    chart: Chart, origin: dt.date, end: dt.date, total_days: int, y: float, x: Callable[[dt.date], float]
) -> None:
    """Month ticks along the bottom (at y), every month or every few for a long timeline."""
    month = origin.replace(day=1)
    step = max(1, round(total_days / 30.4 / 12))
    index = 0
    while month < end:
        if month < origin and index == 0:
            chart.labels.append(Shape(LEFT + 3, y + 12, 0, 0, "tick-label", text=origin.strftime("%b %Y")))
        elif index % step == 0:
            chart.shapes.append(Shape(x(month), 14, 0.5, y - 14, "tick"))
            chart.labels.append(Shape(x(month) + 3, y + 12, 0, 0, "tick-label", text=month.strftime("%b %Y")))
        month = (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        index += 1

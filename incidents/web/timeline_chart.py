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
from incidents.queries.timeline import Series
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
    incident_link: Callable[[int], str],
) -> Chart | None:
    if not data.periods:
        return None
    origin = data.periods[0].first
    end = data.periods[-1].last + dt.timedelta(days=1)
    total_days = max((end - origin).days, 1)
    plot = WIDTH - LEFT - RIGHT

    def x(day: dt.date) -> float:
        days = min(max((day - origin).days, 0), total_days)
        return LEFT + days / total_days * plot

    chart = Chart(height=0, unit=data.unit)
    y = 20.0
    rows = [("incidents", "Incidents", COUNT_HEIGHT)] + [
        (c.value, c.label.capitalize(), CASUALTY_HEIGHT) for c in MAP_CATEGORIES
    ]
    tops: dict[str, float] = {}
    for key, label, height in rows:
        tops[key] = y
        highest = max(
            (p.count if key == "incidents" else p.ranges.get(key, (0, 0))[1] for p in data.periods), default=0
        )
        chart.labels.append(Shape(8, y + height / 2 + 4, 0, 0, "row-label", text=label))
        chart.labels.append(Shape(LEFT - 6, y + 9, 0, 0, "row-max", text=str(highest) if highest else ""))
        chart.shapes.append(Shape(LEFT, y + height, plot, 0.5, "baseline"))
        y += height + GAP
        tops[key + ":max"] = float(highest)
    bars_bottom = y - GAP

    for period in data.periods:
        x1, x2 = x(period.first), x(period.last + dt.timedelta(days=1))
        width = max(x2 - x1 - 1, 1)
        when = (
            f"Week of {date_label(period.first, None, DatePrecision.DAY)}"
            if data.unit == "week"
            else (date_label(period.first, None, DatePrecision.MONTH))
        )
        column = Column(
            period_link(period.first, period.last),
            f"{when}: {_summary(period.count, period.ranges)}",
            x1,
            width,
        )
        column.shapes.append(Shape(x1, 20, width, bars_bottom - 20, "hit"))
        for key, _, height in rows:
            most = tops[key + ":max"]
            if not most:
                continue
            bottom = tops[key] + height
            if key == "incidents":
                h = period.count / most * height
                if h:
                    column.shapes.append(Shape(x1, bottom - h, width, h, "bar bar-incidents"))
                continue
            low, high = period.ranges.get(key, (0, 0))
            if high:
                h = high / most * height
                column.shapes.append(Shape(x1, bottom - h, width, h, f"bar bar-{key} bar-high"))
            if low:
                h = low / most * height
                column.shapes.append(Shape(x1, bottom - h, width, h, f"bar bar-{key} bar-low"))
        chart.columns.append(column)

    y = bars_bottom + GAP
    if data.bands:
        chart.labels.append(Shape(8, y + 10, 0, 0, "row-label", text="Month or year only"))
        spans = [(x(b.first), x(b.last + dt.timedelta(days=1))) for b in data.bands]
        lanes = _pack(spans)
        used = 0
        for band, (x1, x2), lane in zip(data.bands, spans, lanes, strict=True):
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
        y += used * (LANE + 2) + GAP

    if incidents:
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
                    href=incident_link(record["id"]),
                )
            )
        y += used * (LANE + 2) + GAP

    # Month ticks along the bottom.
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
    chart.height = y + 20
    return chart

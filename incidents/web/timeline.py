"""The timeline at /timeline, with the same filters as the map (shared through the URL)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request, url_for
from marshmallow import ValidationError

from incidents.queries import timeline
from incidents.queries.map_view import selection_summary
from incidents.schemas.filters import filter_query_args, filters_from_args
from incidents.web.filters import filter_errors, filter_form_context
from incidents.web.rate_limits import timeline_limit
from incidents.web.security import is_staff
from incidents.web.timeline_chart import build_chart

blueprint = Blueprint("timeline", __name__)


def _period_link(filters: dict[str, Any]) -> Any:
    """A link to the map narrowed to a period (within the filter's own dates), keeping the other filters."""
    kept = [(k, v) for k, v in filter_query_args(request.args) if k not in ("date_from", "date_to")]

    def link(first: dt.date, last: dt.date) -> str:
        if filters.get("date_from"):
            first = max(first, filters["date_from"])
        if filters.get("date_to"):
            last = min(last, filters["date_to"])
        query = urlencode([*kept, ("date_from", first.isoformat()), ("date_to", last.isoformat())])
        return url_for("index") + "?" + query

    return link


@blueprint.get("/timeline")
@timeline_limit
def page() -> str | tuple[str, int]:
    context = filter_form_context()
    try:
        filters = filters_from_args(request.args)
    except ValidationError as error:
        return render_template(
            "timeline/index.html", errors=filter_errors(error), summary=None, **context
        ), 400
    staff = is_staff()
    summary = selection_summary(filters, staff=staff)
    records = timeline.chronological(filters, staff=staff)
    chart = build_chart(
        timeline.series(filters, staff=staff),
        records,
        _period_link(filters),
        lambda public_id: url_for("incidents.incident_detail", ref=public_id),
    )
    months = [
        (key, list(group))
        for key, group in itertools.groupby(
            records, key=lambda r: (r["start_date"].year, r["start_date"].month)
        )
    ]
    return render_template(
        "timeline/index.html",
        errors={},
        summary=summary,
        chart=chart,
        months=months,
        listed=len(records),
        **context,
    )

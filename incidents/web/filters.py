"""What the map, the timeline and the list share: the filter form, and messages for filters that fail."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import request
from marshmallow import ValidationError

from incidents.queries import choices
from incidents.schemas.errors import by_top_field
from incidents.schemas.filters import filter_query_args
from incidents.web.map_style import TYPE_PRECEDENCE, type_colour
from incidents.web.security import is_staff


def filter_errors(error: ValidationError) -> dict[str, str]:
    """One message per parameter, naming it."""
    return by_top_field(error.messages)


def filter_form_context() -> dict[str, Any]:
    """What the filter form needs: the types, the admin-1 regions this visitor may see, and the legend."""
    staff = is_staff()
    types = choices.incident_types()
    order = {slug: i for i, slug in enumerate(TYPE_PRECEDENCE)}
    legend = sorted(types, key=lambda t: (order.get(t.slug, len(order)), t.label))
    return {
        "incident_types": types,
        "legend": [(t.slug, t.label, type_colour(t.slug)) for t in legend],
        "admin1_choices": choices.admin1_in_use(staff=staff),
        "filter_query": urlencode(filter_query_args(request.args)),
        "staff": staff,
    }

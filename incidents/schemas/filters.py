"""The filters a list, map, timeline or export is narrowed by; they live in the URL."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from incidents.schemas.fields import MAX_INT, CountryCode, Text
from incidents.vocabulary import PublicationStatus


class IncidentFilterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = Text(200)
    type = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list)
    date_from = fields.Date(load_default=None)
    date_to = fields.Date(load_default=None)
    country = CountryCode(load_default=None)
    admin1 = Text(120)
    status = fields.Enum(PublicationStatus, by_value=True, load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_INT))

    @validates_schema
    def range_in_order(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("Must not be before the start of the range.", "date_to")


def filters_from_args(args: Any) -> dict[str, Any]:
    """Read filters from a query string (MultiDict); blank values count as absent."""
    raw: dict[str, Any] = {}
    for key in IncidentFilterSchema().fields:
        values = [v for v in args.getlist(key) if v.strip()]
        if not values:
            continue
        raw[key] = values if key == "type" else values[0]
    loaded: dict[str, Any] = IncidentFilterSchema().load(raw)
    return loaded

"""The filters a list, map, timeline or export is narrowed by; they live in the URL."""

from __future__ import annotations

import math
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from incidents.domain.geometry import BoundingBox
from incidents.schemas.fields import MAX_INT, Count, CountryCode, RecordDate, Text
from incidents.vocabulary import SLUG_PATTERN, PublicationStatus, VerificationGrade

# The deepest map zoom a client may ask for (Leaflet's and OpenStreetMap's practical limit is 19).
MAX_ZOOM = 22


class BoundingBoxField(fields.Field[BoundingBox]):
    """`west,south,east,north` in degrees, as in GeoJSON (RFC 7946 §5) and OpenStreetMap's bbox."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> BoundingBox:
        if not isinstance(value, str):
            raise ValidationError("Must be four numbers: west,south,east,north.")
        parts = value.split(",")
        if len(parts) != 4:
            raise ValidationError("Must be four numbers: west,south,east,north (for example -81,-18,-68,0).")
        try:
            west, south, east, north = (float(part) for part in parts)
        except ValueError:
            raise ValidationError("Must be four numbers: west,south,east,north.") from None
        if not all(math.isfinite(v) for v in (west, south, east, north)):
            raise ValidationError("Must be four finite numbers.")
        if not (-180 <= west <= 180 and -180 <= east <= 180):
            raise ValidationError("West and east must lie between -180 and 180 (wrap longitudes first).")
        if not (-90 <= south <= 90 and -90 <= north <= 90):
            raise ValidationError("South and north must lie between -90 and 90.")
        if south > north:
            raise ValidationError("South must not be north of north.")
        # west > east is a box across the antimeridian (e.g. 170,-20,-170,0 around Fiji): it is kept.
        return BoundingBox(west, south, east, north)


class IncidentFilterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = Text(200)
    type = fields.List(
        fields.String(
            validate=validate.Regexp(
                SLUG_PATTERN, error="Not an incident type (lower-case slug, e.g. killing)."
            )
        ),
        load_default=list,
    )
    date_from = RecordDate(load_default=None)
    date_to = RecordDate(load_default=None)
    country = CountryCode(load_default=None)
    admin1 = Text(120)
    perpetrator = Text(200)
    grade = fields.List(fields.Enum(VerificationGrade, by_value=True), load_default=list)
    # At least this many killed according to at least one source: compared with killed_high.
    min_killed = Count(load_default=None)
    bbox = BoundingBoxField(load_default=None)
    status = fields.Enum(PublicationStatus, by_value=True, load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_INT))

    @validates_schema
    def range_in_order(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ValidationError("Must not be before the start of the range.", "date_to")


class MapRequestSchema(IncidentFilterSchema):
    """The filters plus what the map asks for: the visible area (bbox, default the world) and its zoom."""

    zoom = fields.Integer(load_default=2, validate=validate.Range(min=0, max=MAX_ZOOM))


# Parameters that select incidents (as opposed to page, zoom: how they are shown).
FILTER_PARAMETERS = (
    "q",
    "type",
    "date_from",
    "date_to",
    "country",
    "admin1",
    "perpetrator",
    "grade",
    "min_killed",
    "bbox",
    "status",
)


def filters_from_args(args: Any, schema: type[IncidentFilterSchema] = IncidentFilterSchema) -> dict[str, Any]:
    """Read filters from a query string (MultiDict); blank values count as absent.

    Raises ValidationError whose messages name the parameter at fault.
    """
    instance = schema()
    raw: dict[str, Any] = {}
    for key, field in instance.fields.items():
        values = [v for v in args.getlist(key) if v.strip()]
        if not values:
            continue
        raw[key] = values if isinstance(field, fields.List) else values[0]
    loaded: dict[str, Any] = instance.load(raw)
    return loaded


def map_request_from_args(args: Any) -> dict[str, Any]:
    """Filters plus bbox and zoom for the map's data endpoint."""
    return filters_from_args(args, MapRequestSchema)


def active_filters(filters: dict[str, Any]) -> dict[str, Any]:
    """The filters that narrow the selection, without empty values and without paging."""
    return {key: filters[key] for key in FILTER_PARAMETERS if filters.get(key) not in (None, "", [])}


def filter_query_args(args: Any) -> list[tuple[str, str]]:
    """The filter parameters of a query string, as (name, value) pairs for building links that keep them."""
    return [(key, value) for key in FILTER_PARAMETERS for value in args.getlist(key) if value.strip()]

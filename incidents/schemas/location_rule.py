"""A location rule as an admin gives it: what it covers, the grid, and why."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, validates, validates_schema

from incidents.domain.sensitivity import MAX_GRID, check_grid
from incidents.extensions import db
from incidents.models import IncidentType, Source
from incidents.schemas.fields import CountryCode, RecordId, Text
from incidents.vocabulary import LocationRuleKind


class LocationRuleSchema(Schema):
    kind = fields.Enum(LocationRuleKind, by_value=True, required=True)
    source_id = RecordId(load_default=None, allow_none=True)
    incident_type = fields.String(load_default="")
    country = CountryCode(load_default="")
    admin1 = Text(120)
    grid_degrees = fields.Float(
        load_default=None, allow_none=True, metadata={"description": f"More than 0, at most {MAX_GRID:g}"}
    )
    reason = Text(500, load_default="")

    @validates("grid_degrees")
    def a_grid_that_coarsens(self, value: float | None, **_: Any) -> None:
        if value is not None:
            try:
                check_grid(value)
            except ValueError as error:
                raise ValidationError(str(error)) from None

    @validates_schema(skip_on_field_errors=False)
    def has_reason(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("reason"):
            raise ValidationError(
                "Say why: the reason is kept with the rule and in the audit trail", "reason"
            )

    @validates_schema
    def one_target(self, data: dict[str, Any], **_: Any) -> None:
        kind = data.get("kind")
        if kind == LocationRuleKind.SOURCE:
            source_id = data.get("source_id")
            if source_id is None:
                raise ValidationError("Give the id of the source whose incidents to coarsen.", "source_id")
            if db.session.get(Source, source_id) is None:
                raise ValidationError(f"There is no source {source_id}.", "source_id")
        elif kind == LocationRuleKind.INCIDENT_TYPE:
            slug = data.get("incident_type") or ""
            found = db.session.scalar(sa.select(IncidentType.id).where(IncidentType.slug == slug))
            if found is None:
                raise ValidationError(f"{slug!r} is not an incident type.", "incident_type")
            data["incident_type_id"] = found
        elif kind == LocationRuleKind.REGION:
            problems = {}
            if not data.get("country"):
                problems["country"] = ["Give the region's country (ISO code, for example PE)."]
            if not data.get("admin1"):
                problems["admin1"] = ["Give the admin-1 region's name, as incidents record it."]
            if problems:
                raise ValidationError(problems)

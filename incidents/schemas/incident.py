from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates, validates_schema

from incidents.domain.casualties import breakdown_problems, figure, loaded_figures
from incidents.extensions import db
from incidents.models import Incident, IncidentType, Source
from incidents.schemas.fields import MAX_INT, Count, CountryCode, RecordDate, RecordId, Text
from incidents.schemas.source import SourceInputSchema
from incidents.vocabulary import (
    SLUG_PATTERN,
    CasualtyCategory,
    DatePrecision,
    LocationPrecision,
    PublicationStatus,
    VerificationGrade,
)


class CasualtyClaimSchema(Schema):
    """One source's figure for one category: low and high, equal when the source gives one number; for the
    whole category, or for the side or group named (see domain.casualties)."""

    # What it loads depends on its input alone: the importer's compiled schema may remember it by input.
    loads_by_input_alone = True

    category = fields.Enum(CasualtyCategory, by_value=True, required=True)
    low = Count(required=True)
    high = Count(load_default=None, allow_none=True)
    group = Text(200)

    @validates_schema
    def low_not_above_high(self, data: dict[str, Any], **_: Any) -> None:
        low, high = data.get("low"), data.get("high")
        if low is not None and high is not None and low > high:
            raise ValidationError(f"Must not be below the low figure ({low}).", "high")

    @post_load
    def single_figure(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("high") is None:
            data["high"] = data["low"]
        return data


class CitationInputSchema(Schema):
    """An existing source (by id) or a new one, where in it the incident is reported, and its claims."""

    source_id = RecordId(load_default=None, allow_none=True)
    source = fields.Nested(SourceInputSchema, load_default=None, allow_none=True)
    locator = Text(200)
    quote = Text(5000, multiline=True)
    claims = fields.List(fields.Nested(CasualtyClaimSchema), load_default=list)

    @validates_schema
    def one_source(self, data: dict[str, Any], **_: Any) -> None:
        source_id, source = data.get("source_id"), data.get("source")
        if source_id is None and source is None:
            raise ValidationError(
                "Choose an existing source or describe a new one: every claim needs its source.", "source_id"
            )
        if source_id is not None and source is not None:
            raise ValidationError("Give either an existing source or a new one, not both.", "source_id")
        if source_id is not None and db.session.get(Source, source_id) is None:
            raise ValidationError(f"There is no source with id {source_id}.", "source_id")

    @validates_schema
    def groups_within_the_whole(self, data: dict[str, Any], **_: Any) -> None:
        """A source's figures per group cannot add up to more than its own figure for the whole category."""
        claims = data.get("claims") or []
        problems = breakdown_problems((c["category"], c["low"], c["high"], c["group"]) for c in claims)
        errors: dict[int, dict[str, list[str]]] = {}
        for category, least, most in problems:
            # Said beside the first figure per group of that category.
            index = next(i for i, c in enumerate(claims) if c["category"] == category and c["group"])
            errors[index] = {
                "low": [
                    f"The figures per group for {category.label} add up to at least {least}, more than this "
                    f"source's figure for the whole category ({most} at most). Correct one of them, or give "
                    "the larger figure for the whole category."
                ]
            }
        if errors:
            raise ValidationError({"claims": errors})


class CasualtyEstimateSchema(Schema):
    loads_by_input_alone = True  # as CasualtyClaimSchema

    category = fields.Enum(CasualtyCategory, by_value=True, required=True)
    best = Count(required=True)


class IncidentInputSchema(Schema):
    """An incident with its citations, claims and best estimates, as created or replaced in one step."""

    title = Text(300, required=True)
    narrative = Text(20000, multiline=True)
    types = fields.List(
        fields.String(validate=validate.Regexp(SLUG_PATTERN, error="Not an incident type.")),
        required=True,
        validate=validate.Length(min=1, error="Choose at least one incident type."),
    )
    start_date = RecordDate(required=True)
    end_date = RecordDate(allow_none=True, load_default=None)
    date_precision = fields.Enum(DatePrecision, by_value=True, required=True)
    place_name = Text(200)
    admin1 = Text(120)
    admin2 = Text(120)
    country = CountryCode(required=True)
    latitude = fields.Float(
        allow_none=True,
        load_default=None,
        validate=validate.Range(-90, 90, error="Must be between -90 and 90 degrees."),
    )
    longitude = fields.Float(
        allow_none=True,
        load_default=None,
        validate=validate.Range(-180, 180, error="Must be between -180 and 180 degrees."),
    )
    location_precision = fields.Enum(LocationPrecision, by_value=True, required=True)
    # The public sees a coarsened location (domain.sensitivity); the reason is for staff.
    location_sensitive = fields.Boolean(load_default=False)
    location_sensitive_reason = Text(500)
    perpetrators = Text(500)
    victims = Text(500)
    verification_grade = fields.Enum(VerificationGrade, by_value=True, required=True)
    status = fields.Enum(PublicationStatus, by_value=True, load_default=PublicationStatus.DRAFT)
    confidential_notes = Text(20000, multiline=True)
    citations = fields.List(fields.Nested(CitationInputSchema), load_default=list)
    estimates = fields.List(fields.Nested(CasualtyEstimateSchema), load_default=list)
    # The version the editor started from; a save based on an older one is refused as a conflict.
    version = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_INT))

    @validates("types")
    def known_types(self, slugs: list[str], **_: Any) -> None:
        # Slugs once found are remembered by this schema instance (types are never deleted): an importer
        # loads thousands of rows through one instance, and one query per row would be most of its time.
        known: set[str] = self.__dict__.setdefault("_known_type_slugs", set())
        missing = set(slugs) - known
        if missing:
            query = sa.select(IncidentType.slug).where(IncidentType.slug.in_(missing))
            known.update(db.session.scalars(query))
        unknown = [slug for slug in slugs if slug not in known]
        if unknown:
            raise ValidationError(f"Unknown incident type: {', '.join(unknown)}.")

    @validates_schema
    def consistent(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, list[str]] = {}
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            errors["end_date"] = [f"Must not be before the start date ({start.isoformat()})."]
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if (latitude is None) != (longitude is None):
            missing = "latitude" if latitude is None else "longitude"
            errors[missing] = ["Give both latitude and longitude, or neither."]
        if data.get("location_sensitive") and not data.get("location_sensitive_reason"):
            errors["location_sensitive_reason"] = [
                "Say why the location is sensitive (kept for staff; the public sees a coarsened location)."
            ]
        errors.update(_estimate_problems(data))
        if errors:
            raise ValidationError(errors)


def _estimate_problems(data: dict[str, Any]) -> dict[str, Any]:
    """A best estimate needs claims of its category and must lie within the range the incident will show
    (domain.casualties: a breakdown by group is not another source's total)."""
    ranges = loaded_figures(data.get("citations") or [])
    problems: dict[int, dict[str, list[str]]] = {}
    seen: set[CasualtyCategory] = set()
    for index, estimate in enumerate(data.get("estimates") or []):
        category, best = estimate["category"], estimate["best"]
        if category in seen:
            problems[index] = {"category": [f"There is already a best estimate for {category.label}."]}
        elif category not in ranges:
            problems[index] = {"best": [f"No source gives a figure for {category.label}."]}
        elif not ranges[category][0] <= best <= ranges[category][1]:
            problems[index] = {"best": [f"Must lie within the sources' range ({figure(*ranges[category])})."]}
        seen.add(category)
    return {"estimates": problems} if problems else {}


# The incident's own fields in the input, one column each.
SCALAR_FIELDS = (
    "title",
    "narrative",
    "start_date",
    "end_date",
    "date_precision",
    "place_name",
    "admin1",
    "admin2",
    "country",
    "latitude",
    "longitude",
    "location_precision",
    "location_sensitive",
    "location_sensitive_reason",
    "perpetrators",
    "victims",
    "verification_grade",
    "status",
    "confidential_notes",
)


def incident_input(incident: Incident) -> dict[str, Any]:
    """The incident as schema input (plain JSON types), for editing forms and round trips."""
    return {
        "title": incident.title,
        "narrative": incident.narrative,
        "types": [t.slug for t in incident.types],
        "start_date": incident.start_date.isoformat(),
        "end_date": incident.end_date.isoformat() if incident.end_date else None,
        "date_precision": incident.date_precision.value,
        "place_name": incident.place_name,
        "admin1": incident.admin1,
        "admin2": incident.admin2,
        "country": incident.country,
        "latitude": incident.latitude,
        "longitude": incident.longitude,
        "location_precision": incident.location_precision.value,
        "location_sensitive": incident.location_sensitive,
        "location_sensitive_reason": incident.location_sensitive_reason,
        "perpetrators": incident.perpetrators,
        "victims": incident.victims,
        "verification_grade": incident.verification_grade.value,
        "status": incident.status.value,
        "confidential_notes": incident.confidential_notes,
        "citations": [
            {
                "source_id": c.source_id,
                "locator": c.locator,
                "quote": c.quote,
                "claims": [
                    {"category": k.category.value, "low": k.low, "high": k.high, "group": k.group}
                    for k in c.claims
                ],
            }
            for c in incident.citations
        ],
        "estimates": [{"category": e.category.value, "best": e.best} for e in incident.estimates],
        "version": incident.version,
    }

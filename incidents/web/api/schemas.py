"""The API's output, described as marshmallow schemas for the OpenAPI description.

The records themselves are built by incidents.exports.serialize (one road for every output); these schemas
state their shape, and the tests check that the two agree (and schemathesis checks every response).
"""

from __future__ import annotations

from marshmallow import Schema, fields

from incidents.public_ids import PATTERN
from incidents.vocabulary import (
    CasualtyCategory,
    DatePrecision,
    LocationPrecision,
    PublicationStatus,
    ReliabilityGrade,
    SourceKind,
    VerificationGrade,
)


def _enum(enum: type, **kwargs: object) -> fields.Enum:
    return fields.Enum(enum, by_value=True, required=True, **kwargs)  # type: ignore[arg-type]


class TypeRecordSchema(Schema):
    slug = fields.String(required=True)
    label = fields.String(required=True)


class DateRecordSchema(Schema):
    start = fields.Date(required=True)
    end = fields.Date(required=True, allow_none=True)
    precision = _enum(DatePrecision)
    ucdp_date_prec = fields.Integer(required=True, metadata={"minimum": 1, "maximum": 5})


class LocationRecordSchema(Schema):
    place_name = fields.String(required=True)
    admin2 = fields.String(required=True)
    admin1 = fields.String(required=True)
    country = fields.String(required=True, metadata={"description": "ISO 3166-1 alpha-2"})
    country_name = fields.String(required=True)
    latitude = fields.Float(required=True, allow_none=True)
    longitude = fields.Float(required=True, allow_none=True)
    precision = _enum(LocationPrecision)
    ucdp_where_prec = fields.Integer(required=True, metadata={"minimum": 1, "maximum": 7})
    coarsened = fields.Boolean(
        required=True,
        metadata={
            "description": "True when the public sees this location coarsened to protect the people "
            "involved: coordinates snapped to the centre of a grid cell, precision lowered, place name "
            "replaced by the region. Staff records show the recorded location, with location_sensitivity."
        },
    )


class PublicLocationSchema(Schema):
    place_name = fields.String(required=True)
    latitude = fields.Float(required=True, allow_none=True)
    longitude = fields.Float(required=True, allow_none=True)
    precision = _enum(LocationPrecision)


class LocationSensitivitySchema(Schema):
    sensitive = fields.Boolean(required=True, metadata={"description": "Marked sensitive by a researcher"})
    reason = fields.String(required=True)
    public = fields.Nested(
        PublicLocationSchema, required=True, metadata={"description": "What the public sees of the location"}
    )


class CasualtyRangeRecordSchema(Schema):
    category = _enum(CasualtyCategory)
    low = fields.Integer(required=True)
    high = fields.Integer(required=True)
    best = fields.Integer(required=True, allow_none=True)
    source_count = fields.Integer(required=True)


class ClaimRecordSchema(Schema):
    category = _enum(CasualtyCategory)
    low = fields.Integer(required=True)
    high = fields.Integer(required=True)
    group = fields.String(
        required=True,
        metadata={
            "description": "Empty when the figure counts the whole category; otherwise the side or group it "
            "counts (UCDP's deaths of side A, side B, civilians, unknown)"
        },
    )


class SourceRecordSchema(Schema):
    id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "null for a confidential source, in what the public sees"},
    )
    title = fields.String(required=True)
    kind = _enum(SourceKind)
    publisher = fields.String(required=True)
    author = fields.String(required=True)
    publication_date = fields.Date(required=True, allow_none=True)
    url = fields.String(required=True)
    accessed_date = fields.Date(required=True, allow_none=True)
    archive_url = fields.String(required=True)
    language = fields.String(required=True)
    reliability = _enum(ReliabilityGrade)
    confidential = fields.Boolean(
        required=True,
        metadata={
            "description": 'A confidential source is shown to the public as "A confidential source" with '
            "its kind and reliability only, and its citations without locator or quote"
        },
    )


class CitationRecordSchema(Schema):
    locator = fields.String(required=True)
    quote = fields.String(required=True)
    source = fields.Nested(SourceRecordSchema, required=True)
    claims = fields.List(fields.Nested(ClaimRecordSchema), required=True)


class IncidentRecordSchema(Schema):
    """An incident as the public sees it."""

    url = fields.String(required=True, metadata={"description": "The incident's page"})
    id = fields.String(
        required=True,
        metadata={
            "description": "The incident's public id (12 characters, random): its page is /incidents/<id>",
            "pattern": f"^{PATTERN}$",
        },
    )
    title = fields.String(required=True)
    narrative = fields.String(required=True)
    types = fields.List(fields.Nested(TypeRecordSchema), required=True)
    date = fields.Nested(DateRecordSchema, required=True)
    location = fields.Nested(LocationRecordSchema, required=True)
    perpetrators = fields.String(required=True)
    victims = fields.String(required=True)
    verification_grade = _enum(VerificationGrade)
    casualties = fields.List(fields.Nested(CasualtyRangeRecordSchema), required=True)
    source_count = fields.Integer(required=True)
    citations = fields.List(fields.Nested(CitationRecordSchema), required=True)


class StaffIncidentRecordSchema(IncidentRecordSchema):
    """An incident as an editor sees it (with an editor's token): status and confidential fields too."""

    status = _enum(PublicationStatus)
    confidential_notes = fields.String(required=True)
    created_at = fields.DateTime(required=True, allow_none=True)
    created_by = fields.String(required=True, allow_none=True)
    updated_at = fields.DateTime(required=True, allow_none=True)
    updated_by = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)
    location_sensitivity = fields.Nested(LocationSensitivitySchema, required=True)


class IncidentPageSchema(Schema):
    incidents = fields.List(fields.Dict(), required=True, metadata={"description": "Incident records"})
    next_cursor = fields.String(
        required=True, allow_none=True, metadata={"description": "Pass as cursor for the next page"}
    )
    limit = fields.Integer(required=True)


class SourcePageSchema(Schema):
    sources = fields.List(fields.Nested(SourceRecordSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)
    limit = fields.Integer(required=True)


class ProblemSchema(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Validation messages keyed by field path"},
    )

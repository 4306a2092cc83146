from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from incidents.schemas.fields import RecordDate, Text, Url
from incidents.vocabulary import ReliabilityGrade, SourceKind


class SourceInputSchema(Schema):
    """A source as typed by a researcher or read from an import."""

    title = Text(500, required=True)
    kind = fields.Enum(SourceKind, by_value=True, required=True)
    publisher = Text(300)
    author = Text(300)
    publication_date = RecordDate(allow_none=True, load_default=None)
    url = Url()
    accessed_date = RecordDate(allow_none=True, load_default=None)
    archive_url = Url()
    language = Text(35)
    reliability = fields.Enum(ReliabilityGrade, by_value=True, load_default=ReliabilityGrade.F)
    # Never shown to the public (models.Source). Not given: witness testimony is confidential, the rest not.
    confidential = fields.Boolean(load_default=None, allow_none=True)

    @validates_schema
    def accessed_after_published(self, data: dict[str, Any], **_: Any) -> None:
        published, accessed = data.get("publication_date"), data.get("accessed_date")
        if published and accessed and accessed < published:
            raise ValidationError("Cannot be before the publication date.", "accessed_date")

    @post_load
    def testimony_confidential_by_default(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("confidential") is None:
            data["confidential"] = data["kind"] == SourceKind.WITNESS_TESTIMONY
        return data

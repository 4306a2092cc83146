from __future__ import annotations

import re
import unicodedata
from typing import Any

import sqlalchemy as sa
from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from incidents.extensions import db
from incidents.models import IncidentType
from incidents.schemas.fields import Text
from incidents.vocabulary import SLUG_PATTERN


def slug_from_label(label: str) -> str:
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_label.lower()).strip("_")[:64]


class IncidentTypeSchema(Schema):
    """A new incident type: a label, and a slug (made from the label when not given)."""

    label = Text(120, required=True)
    slug = fields.String(
        load_default="",
        validate=validate.Regexp(
            SLUG_PATTERN + "|^$", error="Use lower-case letters, digits and single underscores."
        ),
    )

    @post_load
    def fill_slug(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["slug"] = data["slug"] or slug_from_label(data["label"])
        return data

    @validates_schema
    def unique(self, data: dict[str, Any], **_: Any) -> None:
        slug = data.get("slug") or slug_from_label(data.get("label", ""))
        if not slug:
            raise ValidationError("Give a slug: the label has no letters or digits to make one.", "slug")
        if len(slug) > 64:
            raise ValidationError("Must be at most 64 characters long.", "slug")
        if db.session.scalar(sa.select(IncidentType.id).where(IncidentType.slug == slug)) is not None:
            raise ValidationError(f"The type {slug!r} exists already.", "slug")
        _label_free(data.get("label", ""), None)


class IncidentTypeLabelSchema(Schema):
    """A new label for the type type_id (its slug stays)."""

    label = Text(120, required=True)

    def __init__(self, *, type_id: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.type_id = type_id

    @validates_schema
    def unique(self, data: dict[str, Any], **_: Any) -> None:
        _label_free(data.get("label", ""), self.type_id)


def _label_free(label: str, type_id: int | None) -> None:
    """Refuse a label another type has, whatever its capitals."""
    taken = sa.select(IncidentType.id).where(sa.func.lower(IncidentType.label) == label.lower())
    if type_id is not None:
        taken = taken.where(IncidentType.id != type_id)
    if db.session.scalar(taken) is not None:
        raise ValidationError(f"A type labelled {label!r} exists already.", "label")

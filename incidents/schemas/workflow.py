"""A move of the publication workflow, as the API takes it (the pages send the same fields)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from incidents.schemas.fields import MAX_INT, Text
from incidents.schemas.incident import IncidentInputSchema
from incidents.vocabulary import PublicationStatus

REASON_LENGTH = 2000


class TransitionSchema(Schema):
    """Move an incident to another status: the version read, and why (required to send back, publish and
    retract); an admin may publish their own change with override."""

    to = fields.Enum(PublicationStatus, by_value=True, required=True)
    reason = Text(REASON_LENGTH, multiline=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_INT))
    override = fields.Boolean(load_default=False)


class RetractionSchema(Schema):
    """Retract an incident (DELETE): why, and the version read."""

    reason = Text(REASON_LENGTH, multiline=True)
    version = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_INT))


class IncidentReplacementSchema(IncidentInputSchema):
    """A replacement of an incident (PUT): its input, and why it changes (required of a published or
    retracted incident; the API takes it beside the fields, and the save does not store it in them)."""

    reason = Text(REASON_LENGTH, multiline=True)

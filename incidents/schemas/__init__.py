"""marshmallow schemas: every input (forms, API, importers, demo data) is loaded through these."""

from incidents.schemas.incident import (
    CasualtyClaimSchema,
    CasualtyEstimateSchema,
    CitationInputSchema,
    IncidentInputSchema,
)
from incidents.schemas.source import SourceInputSchema

__all__ = [
    "CasualtyClaimSchema",
    "CasualtyEstimateSchema",
    "CitationInputSchema",
    "IncidentInputSchema",
    "SourceInputSchema",
]

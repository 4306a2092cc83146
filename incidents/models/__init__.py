"""The database model: incidents, their sources and citations, casualty claims, and accounts."""

from incidents.models.audit import AuditEntry, AuditHead
from incidents.models.duplicate import DuplicateFlag
from incidents.models.import_job import ImportJob, ImportUpload
from incidents.models.incident import CasualtyEstimate, Incident, IncidentType, incident_type_links
from incidents.models.location_rule import LocationRule
from incidents.models.map_cell import MapCell
from incidents.models.rate_limit import RateLimitCounter
from incidents.models.source import CasualtyClaim, Citation, Source
from incidents.models.stored_record import StoredRecord
from incidents.models.token import ApiToken
from incidents.models.user import User

__all__ = [
    "AuditEntry",
    "AuditHead",
    "ApiToken",
    "CasualtyClaim",
    "CasualtyEstimate",
    "Citation",
    "DuplicateFlag",
    "ImportJob",
    "ImportUpload",
    "Incident",
    "StoredRecord",
    "IncidentType",
    "LocationRule",
    "MapCell",
    "RateLimitCounter",
    "Source",
    "User",
    "incident_type_links",
]

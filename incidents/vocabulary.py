"""Controlled vocabularies. Values are stored; labels are shown. Codes follow UCDP/ACLED where they exist."""

from __future__ import annotations

import enum


class Labelled(enum.StrEnum):
    """A string enum whose members carry a human label."""

    label: str

    def __new__(cls, value: str, label: str = "") -> Labelled:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


class DatePrecision(Labelled):
    # UCDP date_prec 1..5
    DAY = "day", "exact day"
    SPAN = "span", "span of days"
    WEEK = "week", "known week"
    MONTH = "month", "known month"
    YEAR = "year", "known year"


class LocationPrecision(Labelled):
    # UCDP where_prec 1, 2, 3, 4 and 6
    EXACT = "exact", "exact location"
    NEAR = "near", "near a place (about 25 km)"
    ADMIN2 = "admin2", "admin-2 region"
    ADMIN1 = "admin1", "admin-1 region"
    COUNTRY = "country", "country"


# Radius, in metres, of the area an incident may lie in, for honest drawing on maps.
LOCATION_UNCERTAINTY_M: dict[LocationPrecision, int] = {
    LocationPrecision.EXACT: 0,
    LocationPrecision.NEAR: 25_000,
    LocationPrecision.ADMIN2: 50_000,
    LocationPrecision.ADMIN1: 150_000,
    LocationPrecision.COUNTRY: 500_000,
}


class LocationRuleKind(Labelled):
    # What a location rule covers (models.LocationRule): every incident citing a source, of a type, or in an
    # admin-1 region is published with a coarsened location.
    SOURCE = "source", "incidents citing a source"
    INCIDENT_TYPE = "incident_type", "incidents of a type"
    REGION = "region", "incidents in an admin-1 region"


class LocationMethod(Labelled):
    # How an incident's coordinates and admin regions were found. Importers geocode place names and
    # reverse-geocode points; the precision then says how far the result can be trusted.
    RECORDED = "recorded", "as recorded"
    GEOCODED = "geocoded", "geocoded from the place name"
    REVERSE_GEOCODED = "reverse_geocoded", "admin regions found from the coordinates"


class DuplicateStatus(Labelled):
    # A possible duplicate waits for an editor; nothing is merged without one.
    OPEN = "open", "open"
    DISTINCT = "distinct", "confirmed distinct"
    MERGED = "merged", "merged"


class VerificationGrade(Labelled):
    # Airwars grading
    CONFIRMED = "confirmed", "confirmed"
    FAIR = "fair", "fair"
    WEAK = "weak", "weak"
    CONTESTED = "contested", "contested"
    DISCOUNTED = "discounted", "discounted"


class PublicationStatus(Labelled):
    # The publication workflow (services.workflow): a draft is submitted for review; a reviewer sends it back
    # or publishes it; a published incident may be retracted. Only published incidents are public.
    DRAFT = "draft", "draft"
    IN_REVIEW = "in_review", "in review"
    PUBLISHED = "published", "published"
    RETRACTED = "retracted", "retracted"


class SourceKind(Labelled):
    INTERGOVERNMENTAL_REPORT = "intergovernmental_report", "intergovernmental report"
    NGO_REPORT = "ngo_report", "NGO report"
    OFFICIAL_STATEMENT = "official_statement", "official statement"
    PRESS = "press", "press"
    WITNESS_TESTIMONY = "witness_testimony", "witness testimony"
    SOCIAL_MEDIA = "social_media", "social media"
    COURT_RECORD = "court_record", "court record"
    OTHER = "other", "other"


class ReliabilityGrade(Labelled):
    # The Admiralty (NATO) source-reliability scale.
    A = "A", "A: completely reliable"
    B = "B", "B: usually reliable"
    C = "C", "C: fairly reliable"
    D = "D", "D: not usually reliable"
    E = "E", "E: unreliable"
    F = "F", "F: reliability cannot be judged"


class CasualtyCategory(Labelled):
    KILLED = "killed", "killed"
    INJURED = "injured", "injured"
    DETAINED = "detained", "detained"
    DISAPPEARED = "disappeared", "disappeared"
    DISPLACED = "displaced", "displaced"


class Role(Labelled):
    # Editors draft and submit; reviewers also send back, publish and retract; admins also manage accounts
    # and vocabularies. The public (not logged in) sees published incidents only.
    ADMIN = "admin", "administrator"
    REVIEWER = "reviewer", "reviewer"
    EDITOR = "editor", "editor"


# What an incident type's slug may look like (it appears in URLs, exports and imports).
SLUG_PATTERN = r"^[a-z0-9]+(?:_[a-z0-9]+)*$"

# The incident types every database starts with (slug, label). Admins may add more.
SEED_INCIDENT_TYPES: list[tuple[str, str]] = [
    ("raid", "raid"),
    ("arrest_detention", "arrest or detention"),
    ("mass_roundup", "mass roundup"),
    ("curfew", "curfew"),
    ("movement_restriction", "movement restriction"),
    ("state_of_emergency", "state of emergency"),
    ("killing", "killing"),
    ("injury", "injury"),
    ("ill_treatment_torture", "ill-treatment or torture"),
    ("enforced_disappearance", "enforced disappearance"),
    ("threat_harassment", "threat or harassment"),
    ("stigmatisation", "stigmatisation"),
    ("sexual_violence", "sexual violence"),
    ("destruction_of_property", "destruction of property"),
]

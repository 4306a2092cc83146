"""What an audience is shown of an incident's location and of a source: the public its public location
(derived.public_locations) and confidential sources withheld; staff everything, with the marks.

Queries over many incidents take `location_columns(staff)`, labelled as the recorded columns, so that the
code after them reads the same names for either audience. Pages that hold ORM incidents and sources show
them through `location_of` and `source_of`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from incidents.domain.sensitivity import CONFIDENTIAL_SOURCE_TITLE
from incidents.models import Incident, Source
from incidents.vocabulary import LocationPrecision, ReliabilityGrade, SourceKind


def location_columns(*, staff: bool) -> list[Any]:
    """place_name, latitude, longitude and location_precision as this audience sees them."""
    if staff:
        return [Incident.place_name, Incident.latitude, Incident.longitude, Incident.location_precision]
    return [
        Incident.public_place_name.label("place_name"),
        Incident.public_latitude.label("latitude"),
        Incident.public_longitude.label("longitude"),
        Incident.public_location_precision.label("location_precision"),
    ]


@dataclass(frozen=True)
class ShownLocation:
    place_name: str
    admin2: str
    admin1: str
    country: str
    latitude: float | None
    longitude: float | None
    precision: LocationPrecision
    coarsened: bool  # the public sees a coarsened location
    sensitive: bool  # staff only: marked sensitive (False for the public, who see no marks)
    reason: str  # staff only


def location_of(incident: Incident, *, staff: bool) -> ShownLocation:
    """The incident's location as this audience sees it."""
    if staff:
        return ShownLocation(
            incident.place_name,
            incident.admin2,
            incident.admin1,
            incident.country,
            incident.latitude,
            incident.longitude,
            incident.location_precision,
            incident.location_coarsened,
            incident.location_sensitive,
            incident.location_sensitive_reason,
        )
    return ShownLocation(
        incident.public_place_name,
        incident.admin2,
        incident.admin1,
        incident.country,
        incident.public_latitude,
        incident.public_longitude,
        incident.public_location_precision or incident.location_precision,
        incident.location_coarsened,
        False,
        "",
    )


@dataclass(frozen=True)
class WithheldSource:
    """A confidential source as the public sees it: its kind and reliability, nothing that identifies it."""

    kind: SourceKind
    reliability: ReliabilityGrade
    title: str = CONFIDENTIAL_SOURCE_TITLE
    publisher: str = ""
    author: str = ""
    publication_date: dt.date | None = None
    url: str = ""
    accessed_date: dt.date | None = None
    archive_url: str = ""
    language: str = ""
    confidential: bool = True
    withheld: bool = True  # its citations' locators and quotes are withheld too


def source_of(source: Source, *, staff: bool) -> Source | WithheldSource:
    """The source as this audience sees it."""
    if staff or not source.confidential:
        return source
    return WithheldSource(source.kind, source.reliability)

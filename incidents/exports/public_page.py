"""The public's page of an incident, read from its stored public record: one query, no ORM objects.

The page an anonymous visitor gets shows the incident's public record (the bytes derived.stored_records keeps
true in the transaction of every change: the incident's own edits, its sources', the location rules', the
type labels') and three columns beside it: its version and last update (the citation line) and how its
location was found. `published` reads all of it in one query; the page's ETag is made from it
(web.conditional) before anything is rendered, and the page is rendered from `PublicIncident`, which gives
the template and domain.casualties the names the ORM objects give. Loading the incident, its types,
citations, sources, claims and estimates as ORM objects cost half of the page's time.

tests/test_public_page.py renders every demo incident both ways and compares the pages byte for byte.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

import orjson
import sqlalchemy as sa

from incidents.exports.stored import LAYOUT, RECORDS
from incidents.extensions import db
from incidents.models import Citation, Incident
from incidents.queries.history import may_have_corrections
from incidents.queries.shown import ShownLocation
from incidents.vocabulary import (
    CasualtyCategory,
    DatePrecision,
    LocationMethod,
    LocationPrecision,
    PublicationStatus,
    ReliabilityGrade,
    SourceKind,
    VerificationGrade,
)

INCIDENTS = cast(sa.Table, Incident.__table__)
CITATIONS = cast(sa.Table, Citation.__table__)


@dataclass(frozen=True)
class PublishedIncident:
    """A published incident as the public page needs it first: enough to tell whether it changed."""

    id: int
    public_id: str
    version: int
    updated_at: dt.datetime
    location_method: LocationMethod
    # The stored public record (canonical JSON); None when there is none of this code's layout (after an
    # upgrade, until `records --rebuild`): the page is then made from the ORM objects, as before.
    record: bytes | None
    # Whether the audit trail may hold correction notes for it (queries.history.corrections then says).
    may_be_corrected: bool


_PUBLISHED = (
    sa.select(
        INCIDENTS.c.id,
        INCIDENTS.c.version,
        INCIDENTS.c.updated_at,
        INCIDENTS.c.location_method,
        RECORDS.c.content,
        may_have_corrections(INCIDENTS.c.id),
    )
    .select_from(
        INCIDENTS.outerjoin(
            RECORDS, sa.and_(RECORDS.c.incident_id == INCIDENTS.c.id, RECORDS.c.layout == LAYOUT)
        )
    )
    .where(
        INCIDENTS.c.public_id == sa.bindparam("public_id"),
        INCIDENTS.c.status == PublicationStatus.PUBLISHED,
    )
)


def published(public_id: str) -> PublishedIncident | None:
    """The published incident with this public id, with its stored record; None when there is none."""
    row = db.session.connection().execute(_PUBLISHED, {"public_id": public_id}).first()
    if row is None:
        return None
    incident_id, version, updated_at, method, content, corrected = row
    record = bytes(content) if content is not None else None
    return PublishedIncident(incident_id, public_id, version, updated_at, method, record, bool(corrected))


# -- the record as the page reads it ------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownType:
    slug: str
    label: str


@dataclass(frozen=True)
class ShownClaim:
    category: CasualtyCategory
    low: int
    high: int
    group: str


@dataclass(frozen=True)
class ShownSource:
    """A source as the public record gives it (a confidential one already as "a confidential source")."""

    id: int | None
    title: str
    kind: SourceKind
    publisher: str
    author: str
    publication_date: dt.date | None
    url: str
    accessed_date: dt.date | None
    archive_url: str
    language: str
    reliability: ReliabilityGrade
    confidential: bool


@dataclass(frozen=True)
class ShownCitation:
    position: int
    # The source's id, to count sources: None for a confidential source, whose id the public record leaves
    # out (see public_incident for when it is read).
    source_id: int | None
    source: ShownSource
    locator: str
    quote: str
    claims: list[ShownClaim]


@dataclass(frozen=True)
class ShownEstimate:
    category: CasualtyCategory
    best: int


@dataclass(frozen=True)
class PublicIncident:
    """An incident as its public record says, under the names the page reads of an Incident."""

    public_id: str
    version: int
    updated_at: dt.datetime
    location_method: LocationMethod
    title: str
    narrative: str
    types: list[ShownType]
    start_date: dt.date
    end_date: dt.date | None
    date_precision: DatePrecision
    location: ShownLocation
    perpetrators: str
    victims: str
    verification_grade: VerificationGrade
    citations: list[ShownCitation]
    estimates: list[ShownEstimate]


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _source(record: dict[str, Any]) -> ShownSource:
    return ShownSource(
        record["id"],
        record["title"],
        SourceKind(record["kind"]),
        record["publisher"],
        record["author"],
        _date(record["publication_date"]),
        record["url"],
        _date(record["accessed_date"]),
        record["archive_url"],
        record["language"],
        ReliabilityGrade(record["reliability"]),
        record["confidential"],
    )


def public_incident(incident: PublishedIncident) -> PublicIncident:
    """The page's reading of the incident's stored record (which must exist)."""
    if incident.record is None:
        raise ValueError(f"incident {incident.id} has no stored record of this layout")
    record = orjson.loads(incident.record)
    citations = [
        ShownCitation(
            position,
            cited["source"]["id"],
            _source(cited["source"]),
            cited["locator"],
            cited["quote"],
            [
                ShownClaim(CasualtyCategory(claim["category"]), claim["low"], claim["high"], claim["group"])
                for claim in cited["claims"]
            ],
        )
        for position, cited in enumerate(record["citations"])
    ]
    withheld = [citation for citation in citations if citation.source_id is None]
    if len(withheld) > 1:
        # Two confidential citations may be one source or two: the page counts sources, so it reads their ids.
        citations = _with_source_ids(incident.id, citations)
    where = record["location"]
    date = record["date"]
    return PublicIncident(
        public_id=incident.public_id,
        version=incident.version,
        updated_at=incident.updated_at,
        location_method=incident.location_method,
        title=record["title"],
        narrative=record["narrative"],
        types=[ShownType(kind["slug"], kind["label"]) for kind in record["types"]],
        start_date=dt.date.fromisoformat(date["start"]),
        end_date=_date(date["end"]),
        date_precision=DatePrecision(date["precision"]),
        location=ShownLocation(
            where["place_name"],
            where["admin2"],
            where["admin1"],
            where["country"],
            where["latitude"],
            where["longitude"],
            LocationPrecision(where["precision"]),
            where["coarsened"],
            False,
            "",
        ),
        perpetrators=record["perpetrators"],
        victims=record["victims"],
        verification_grade=VerificationGrade(record["verification_grade"]),
        citations=citations,
        estimates=[
            ShownEstimate(CasualtyCategory(row["category"]), row["best"])
            for row in record["casualties"]
            if row["best"] is not None
        ],
    )


def _with_source_ids(incident_id: int, citations: list[ShownCitation]) -> list[ShownCitation]:
    """The citations with their sources' ids, read in the order the record lists them."""
    query = (
        sa.select(CITATIONS.c.source_id)
        .where(CITATIONS.c.incident_id == incident_id)
        .order_by(CITATIONS.c.position, CITATIONS.c.id)
    )
    ids = list(db.session.connection().scalars(query))
    if len(ids) != len(citations):
        raise ValueError(f"incident {incident_id}: its stored record has not its citations")
    return [
        ShownCitation(c.position, source_id, c.source, c.locator, c.quote, c.claims)
        for c, source_id in zip(citations, ids, strict=True)
    ]

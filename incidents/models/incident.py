from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.extensions import Base, db
from incidents.models.columns import Timestamp, enum_column_type, utcnow
from incidents.public_ids import new_public_id
from incidents.vocabulary import (
    CasualtyCategory,
    DatePrecision,
    LocationMethod,
    LocationPrecision,
    PublicationStatus,
    VerificationGrade,
)

if TYPE_CHECKING:
    from incidents.models.source import Citation
    from incidents.models.user import User

incident_type_links = sa.Table(
    "incident_type_links",
    db.metadata,
    sa.Column("incident_id", sa.ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("incident_type_id", sa.ForeignKey("incident_types.id"), primary_key=True),
    # Incidents of a type (the type filter) without reading every link: the key starts with the incident.
    sa.Index("ix_incident_type_links_type", "incident_type_id", "incident_id"),
)


class IncidentType(Base):
    """An entry of the controlled list of incident types."""

    __tablename__ = "incident_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str] = mapped_column(sa.String(120))

    def __repr__(self) -> str:
        return f"<IncidentType {self.slug}>"


class Incident(Base):
    """One documented incident: what, when, where, who, how many (via citations), how sure, who may see it."""

    __tablename__ = "incidents"
    __table_args__ = (
        sa.CheckConstraint("end_date IS NULL OR end_date >= start_date", name="end_after_start"),
        sa.CheckConstraint("latitude IS NULL OR (latitude >= -90 AND latitude <= 90)", name="latitude_range"),
        sa.CheckConstraint(
            "longitude IS NULL OR (longitude >= -180 AND longitude <= 180)", name="longitude_range"
        ),
        sa.CheckConstraint("(latitude IS NULL) = (longitude IS NULL)", name="coordinates_paired"),
        sa.Index("ix_incidents_status_start_date", "status", "start_date"),
        # An imported incident is known by its id in the dataset it came from: importing again adds nothing.
        sa.UniqueConstraint(
            "external_source", "external_id", name="uq_incidents_external_source_external_id"
        ),
        sa.CheckConstraint(
            "NOT location_sensitive OR location_sensitive_reason <> ''", name="sensitive_has_reason"
        ),
        # The map's bounding-box queries read only this index (a covering index): where the incident is shown
        # (its public location: derived.public_locations), dates, ranges.
        sa.Index(
            "ix_incidents_map",
            "status",
            "public_latitude",
            "public_longitude",
            "start_date",
            "end_date",
            "killed_low",
            "killed_high",
            "injured_low",
            "injured_high",
            "detained_low",
            "detained_high",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What URLs, exports and the API call the incident (incidents.public_ids): random, so that the public
    # cannot count the unpublished incidents by the gaps between numbers. id stays the database's own key.
    public_id: Mapped[str] = mapped_column(sa.String(12), unique=True, default=new_public_id)
    # The incident existed when URLs were numbered (/incidents/<id>, before migration 0011): that URL still
    # leads to it, by redirect, once it is published. Incidents entered since have no numbered URL, so that
    # numbers cannot be tried one by one to count the unpublished ones.
    numbered_url: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    title: Mapped[str] = mapped_column(sa.String(300))
    narrative: Mapped[str] = mapped_column(sa.Text, default="")
    start_date: Mapped[dt.date] = mapped_column(sa.Date)
    end_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    date_precision: Mapped[DatePrecision] = mapped_column(enum_column_type(DatePrecision))
    place_name: Mapped[str] = mapped_column(sa.String(200), default="")
    admin1: Mapped[str] = mapped_column(sa.String(120), default="", index=True)
    admin2: Mapped[str] = mapped_column(sa.String(120), default="")
    country: Mapped[str] = mapped_column(sa.String(2), index=True)
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    location_precision: Mapped[LocationPrecision] = mapped_column(enum_column_type(LocationPrecision))
    location_method: Mapped[LocationMethod] = mapped_column(
        enum_column_type(LocationMethod),
        default=LocationMethod.RECORDED,
        server_default=LocationMethod.RECORDED.value,
    )
    perpetrators: Mapped[str] = mapped_column(sa.String(500), default="")
    victims: Mapped[str] = mapped_column(sa.String(500), default="")
    verification_grade: Mapped[VerificationGrade] = mapped_column(enum_column_type(VerificationGrade))
    status: Mapped[PublicationStatus] = mapped_column(
        enum_column_type(PublicationStatus), default=PublicationStatus.DRAFT
    )
    confidential_notes: Mapped[str] = mapped_column(sa.Text, default="")
    # A researcher's mark: this incident's location must not be published as recorded (a witness's home, a
    # detention centre visit), and why. See domain.sensitivity for what the public sees instead.
    location_sensitive: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    location_sensitive_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")

    # Derived on every save (derived.public_locations) from the location, the mark above and the location
    # rules (LocationRule): where the public sees the incident. Equal to the recorded values unless coarsened.
    public_latitude: Mapped[float | None] = mapped_column(sa.Float)
    public_longitude: Mapped[float | None] = mapped_column(sa.Float)
    public_place_name: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    public_location_precision: Mapped[LocationPrecision | None] = mapped_column(
        enum_column_type(LocationPrecision, name="public_locationprecision")
    )
    location_coarsened: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    # Derived from the claims on every save (derived.ranges), so that maps, filters, totals and exports
    # over many incidents need no join: the range per category (NULL when no source gives a figure).
    killed_low: Mapped[int | None]
    killed_high: Mapped[int | None]
    injured_low: Mapped[int | None]
    injured_high: Mapped[int | None]
    detained_low: Mapped[int | None]
    detained_high: Mapped[int | None]
    disappeared_low: Mapped[int | None]
    disappeared_high: Mapped[int | None]
    displaced_low: Mapped[int | None]
    displaced_high: Mapped[int | None]
    source_count: Mapped[int] = mapped_column(default=0)

    # Where an imported incident came from: the dataset ("ucdp", "acled", "incidents", "csv:<name>") and the
    # incident's id there. NULL for incidents entered here.
    external_source: Mapped[str | None] = mapped_column(sa.String(100))
    external_id: Mapped[str | None] = mapped_column(sa.String(100))
    # SHA-256 of the record as the file gave it when imported: a later file with the same id and other content
    # is told apart (and reported; an import adds, it does not change what is stored).
    external_digest: Mapped[str | None] = mapped_column(sa.String(64))

    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # Optimistic locking: a save based on an old version is refused instead of overwriting a colleague's.
    version: Mapped[int] = mapped_column(default=1)

    types: Mapped[list[IncidentType]] = relationship(
        secondary=incident_type_links, order_by=IncidentType.label, lazy="selectin"
    )
    citations: Mapped[list[Citation]] = relationship(
        back_populates="incident",
        cascade="all, delete-orphan",
        order_by="Citation.position",
        lazy="selectin",
    )
    estimates: Mapped[list[CasualtyEstimate]] = relationship(
        back_populates="incident", cascade="all, delete-orphan", lazy="selectin"
    )
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Incident {self.id} {self.title!r}>"


class CasualtyEstimate(Base):
    """A researcher's best estimate for one casualty category of an incident, within the claimed range."""

    __tablename__ = "casualty_estimates"
    __table_args__ = (
        sa.UniqueConstraint("incident_id", "category", name="uq_casualty_estimates_incident_category"),
        sa.CheckConstraint("best >= 0", name="best_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id", ondelete="CASCADE"))
    category: Mapped[CasualtyCategory] = mapped_column(enum_column_type(CasualtyCategory))
    best: Mapped[int]

    incident: Mapped[Incident] = relationship(back_populates="estimates")

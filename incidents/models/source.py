from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.extensions import Base
from incidents.models.columns import Timestamp, enum_column_type, utcnow
from incidents.vocabulary import CasualtyCategory, ReliabilityGrade, SourceKind

if TYPE_CHECKING:
    from incidents.models.incident import Incident


class Source(Base):
    """A report, article, statement or testimony; reusable across incidents."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(500))
    kind: Mapped[SourceKind] = mapped_column(enum_column_type(SourceKind))
    publisher: Mapped[str] = mapped_column(sa.String(300), default="")
    author: Mapped[str] = mapped_column(sa.String(300), default="")
    publication_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    url: Mapped[str] = mapped_column(sa.String(2000), default="")
    accessed_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    archive_url: Mapped[str] = mapped_column(sa.String(2000), default="")
    language: Mapped[str] = mapped_column(sa.String(35), default="")
    reliability: Mapped[ReliabilityGrade] = mapped_column(
        enum_column_type(ReliabilityGrade, length=1), default=ReliabilityGrade.F
    )
    # A confidential source is never shown to the public: its kind, reliability and figures are, as "a
    # confidential source", never its title, publisher, author, dates, URLs, language, locators or quotes.
    # Witness testimony is confidential unless said otherwise (schemas.SourceInputSchema).
    confidential: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[dt.datetime] = mapped_column(Timestamp, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    citations: Mapped[list[Citation]] = relationship(back_populates="source")

    def __repr__(self) -> str:
        return f"<Source {self.id} {self.title!r}>"


class Citation(Base):
    """An incident as reported by one source, at a locator, with the casualty figures that source gives."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(sa.ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sources.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    locator: Mapped[str] = mapped_column(sa.String(200), default="")
    quote: Mapped[str] = mapped_column(sa.Text, default="")

    incident: Mapped[Incident] = relationship(back_populates="citations")
    source: Mapped[Source] = relationship(back_populates="citations", lazy="joined")
    claims: Mapped[list[CasualtyClaim]] = relationship(
        back_populates="citation",
        cascade="all, delete-orphan",
        order_by="CasualtyClaim.id",
        lazy="selectin",
    )


class CasualtyClaim(Base):
    """One figure from one source: between low and high people of a category (low == high for one number).

    `group` is empty for the source's figure for the whole category; otherwise it names the side or group the
    people belonged to ("civilians", "Government of Bangladesh"), when the source breaks its figure down. A
    citation's figure for a category is its claims for the whole category, or, when it gives only figures per
    group, their sum (see domain.casualties).
    """

    __tablename__ = "casualty_claims"
    __table_args__ = (
        sa.CheckConstraint("low >= 0", name="low_not_negative"),
        sa.CheckConstraint("high >= low", name="high_not_below_low"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    citation_id: Mapped[int] = mapped_column(sa.ForeignKey("citations.id", ondelete="CASCADE"), index=True)
    category: Mapped[CasualtyCategory] = mapped_column(enum_column_type(CasualtyCategory))
    low: Mapped[int]
    high: Mapped[int]
    group: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")

    citation: Mapped[Citation] = relationship(back_populates="claims")

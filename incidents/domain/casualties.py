"""Casualty ranges derived from claims: sources disagree, so a figure is a range, never one number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from incidents.models import Incident
from incidents.vocabulary import CasualtyCategory


@dataclass(frozen=True)
class CasualtyRange:
    category: CasualtyCategory
    low: int
    high: int
    best: int | None
    source_count: int

    @property
    def figure(self) -> str:
        """ "17–18" for a range, "17" when every source agrees."""
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"

    def __str__(self) -> str:
        sources = "1 source" if self.source_count == 1 else f"{self.source_count} sources"
        best = f", best estimate {self.best}" if self.best is not None else ""
        return f"{self.category.label.capitalize()}: {self.figure} ({sources}{best})"


def casualty_ranges(incident: Incident) -> list[CasualtyRange]:
    """Per category: the lowest low and highest high across the incident's claims, in vocabulary order."""
    lows: dict[CasualtyCategory, int] = {}
    highs: dict[CasualtyCategory, int] = {}
    sources: dict[CasualtyCategory, set[int]] = {}
    for citation in incident.citations:
        for claim in citation.claims:
            category = claim.category
            lows[category] = min(lows.get(category, claim.low), claim.low)
            highs[category] = max(highs.get(category, claim.high), claim.high)
            sources.setdefault(category, set()).add(citation.source_id)
    best = {estimate.category: estimate.best for estimate in incident.estimates}
    return [
        CasualtyRange(category, lows[category], highs[category], best.get(category), len(sources[category]))
        for category in CasualtyCategory
        if category in lows
    ]


@dataclass(frozen=True)
class CasualtyTotal:
    category: CasualtyCategory
    low: int
    high: int
    incident_count: int

    @property
    def figure(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}–{self.high}"


def total_ranges(ranges: Iterable[CasualtyRange]) -> list[CasualtyTotal]:
    """Totals over many incidents add the lows and the highs separately."""
    lows: dict[CasualtyCategory, int] = {}
    highs: dict[CasualtyCategory, int] = {}
    counts: dict[CasualtyCategory, int] = {}
    for r in ranges:
        lows[r.category] = lows.get(r.category, 0) + r.low
        highs[r.category] = highs.get(r.category, 0) + r.high
        counts[r.category] = counts.get(r.category, 0) + 1
    return [CasualtyTotal(c, lows[c], highs[c], counts[c]) for c in CasualtyCategory if c in lows]

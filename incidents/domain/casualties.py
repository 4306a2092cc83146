"""Casualty ranges derived from claims: sources disagree, so a figure is a range, never one number.

A claim counts a category as a whole (its group is empty), or one side or group within it ("civilians",
"Government of Bangladesh"), as UCDP gives deaths per side. Each citation (a source at one locator) gives
one figure for a category: its claim for the whole category, or, when it gives only figures per group, their
sum: a breakdown never widens the range as if it were another source's total. The incident's range is the
lowest and highest of the citations' figures. (Per citation, not per source: the figures are computed the
same way before a save, when new sources have no id yet, as after it.)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from incidents.models import Citation, Incident
from incidents.vocabulary import CasualtyCategory

K = TypeVar("K", bound=Hashable)
# (category, low, high, group) for one claim; the category as an enum member or as its value.
Claim = tuple[K, int, int, str]


def figure(low: int, high: int) -> str:
    """ "17–18" for a range, "17" for one number."""
    return str(low) if low == high else f"{low}–{high}"


def _widen(ranges: dict[K, tuple[int, int]], key: K, low: int, high: int) -> None:
    known = ranges.get(key)
    ranges[key] = (low, high) if known is None else (min(known[0], low), max(known[1], high))


def source_figures(claims: Iterable[Claim[K]]) -> dict[K, tuple[int, int]]:
    """One citation's figure per category: the lowest low and highest high of its claims for the whole
    category; for a category it counts only by group, the sums over its groups (each group's lowest low and
    highest high)."""
    return _source_figures(claims)[0]


def _source_figures(claims: Iterable[Claim[K]]) -> tuple[dict[K, tuple[int, int]], frozenset[K]]:
    """source_figures, and the categories whose figure is a sum over groups. (Every save and every imported
    row comes through here: the common cases, no groups or groups beside a whole figure, go straight.)"""
    whole: dict[K, tuple[int, int]] = {}
    grouped: list[Claim[K]] | None = None
    for claim in claims:
        category, low, high, group = claim
        if group:
            if grouped is None:
                grouped = []
            grouped.append(claim)
            continue
        known = whole.get(category)
        whole[category] = (low, high) if known is None else (min(known[0], low), max(known[1], high))
    if grouped is None:
        return whole, _NONE
    by_group: dict[K, dict[str, tuple[int, int]]] = {}
    for category, low, high, group in grouped:
        if category not in whole:  # the source's figure for the whole category is its figure
            _widen(by_group.setdefault(category, {}), group, low, high)
    for category, groups in by_group.items():
        whole[category] = (sum(low for low, _ in groups.values()), sum(high for _, high in groups.values()))
    return whole, frozenset(by_group)


_NONE: frozenset[Any] = frozenset()


def incident_figures(citations: Iterable[Iterable[Claim[K]]]) -> dict[K, tuple[int, int]]:
    """Per category, the lowest and the highest of the citations' figures (source_figures)."""
    ranges: dict[K, tuple[int, int]] = {}
    for claims in citations:
        for category, (low, high) in _source_figures(claims)[0].items():
            known = ranges.get(category)
            ranges[category] = (low, high) if known is None else (min(known[0], low), max(known[1], high))
    return ranges


@dataclass(frozen=True)
class GroupRange:
    """One side or group within a category: the lowest low and highest high the sources give for it."""

    group: str
    low: int
    high: int
    source_count: int

    @property
    def figure(self) -> str:
        return figure(self.low, self.high)


@dataclass(frozen=True)
class SourceFigure:
    """What one citation gives for a category; `summed` when that is the sum of its figures per group."""

    citation: Citation
    low: int
    high: int
    summed: bool

    @property
    def figure(self) -> str:
        return figure(self.low, self.high)


@dataclass(frozen=True)
class CasualtyRange:
    category: CasualtyCategory
    low: int
    high: int
    best: int | None
    source_count: int
    groups: tuple[GroupRange, ...] = ()
    by_source: tuple[SourceFigure, ...] = ()

    @property
    def figure(self) -> str:
        """ "17–18" for a range, "17" when every source agrees."""
        return figure(self.low, self.high)

    def __str__(self) -> str:
        sources = "1 source" if self.source_count == 1 else f"{self.source_count} sources"
        best = f", best estimate {self.best}" if self.best is not None else ""
        return f"{self.category.label.capitalize()}: {self.figure} ({sources}{best})"


def casualty_ranges(incident: Incident) -> list[CasualtyRange]:
    """Per category, in vocabulary order: the range of the sources' figures (incident_figures), the best
    estimate, the number of sources, and each group's range in the order the claims name them."""
    sources: dict[CasualtyCategory, set[int]] = {}
    groups: dict[CasualtyCategory, dict[str, tuple[int, int]]] = {}
    group_sources: dict[tuple[CasualtyCategory, str], set[int]] = {}
    ranges: dict[CasualtyCategory, tuple[int, int]] = {}
    by_source: dict[CasualtyCategory, list[SourceFigure]] = {}
    for citation in incident.citations:
        for claim in citation.claims:
            sources.setdefault(claim.category, set()).add(citation.source_id)
            if claim.group:
                _widen(groups.setdefault(claim.category, {}), claim.group, claim.low, claim.high)
                group_sources.setdefault((claim.category, claim.group), set()).add(citation.source_id)
        figures, summed = _source_figures((c.category, c.low, c.high, c.group) for c in citation.claims)
        for category, (low, high) in figures.items():
            _widen(ranges, category, low, high)
            by_source.setdefault(category, []).append(SourceFigure(citation, low, high, category in summed))
    best = {estimate.category: estimate.best for estimate in incident.estimates}
    return [
        CasualtyRange(
            category,
            *ranges[category],
            best.get(category),
            len(sources[category]),
            tuple(
                GroupRange(group, low, high, len(group_sources[category, group]))
                for group, (low, high) in groups.get(category, {}).items()
            ),
            tuple(by_source[category]),
        )
        for category in CasualtyCategory
        if category in ranges
    ]


@dataclass(frozen=True)
class CasualtyTotal:
    category: CasualtyCategory
    low: int
    high: int
    incident_count: int

    @property
    def figure(self) -> str:
        return figure(self.low, self.high)


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

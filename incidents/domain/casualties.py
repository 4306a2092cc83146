"""Casualty ranges derived from claims: sources disagree, so a figure is a range, never one number.

A claim counts a category as a whole (its group is empty), or one side or group within it ("civilians",
"Government of Bangladesh"), as UCDP gives deaths per side. Groups are one whatever their capitals and
spacing.

Each citation (a source at one locator) gives at most one figure for a category:
- its claim for the whole category (several: from the lowest low to the highest high);
- or, when it gives only figures per group, their sum (each group from its lowest low to its highest high).

The incident's range spans the citations' figures for the whole category. The sums of figures per group count
only when no citation gives a figure for the whole category: a breakdown, or a part of one ("1 police officer
killed", from a police statement that says nothing of civilians), is never taken for another total that would
pull the range down (UCDP's side A 0 beside its 6-8 for the event would make it 0-8).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from incidents.vocabulary import CasualtyCategory

K = TypeVar("K", bound=Hashable)
# (category, low, high, group) for one claim; the category as an enum member or as its value.
Claim = tuple[K, int, int, str]
Range = tuple[int, int]


class ClaimFacts(Protocol):
    """What the ranges read of a claim: a CasualtyClaim, or one of a stored public record."""

    @property
    def category(self) -> CasualtyCategory: ...
    @property
    def low(self) -> int: ...
    @property
    def high(self) -> int: ...
    @property
    def group(self) -> str: ...


class CitationFacts(Protocol):
    """What the ranges read of a citation: a Citation, or one of a stored public record (the page shows its
    position and source beside the figure it gives)."""

    @property
    def position(self) -> int: ...
    @property
    def source_id(self) -> int | None: ...
    @property
    def claims(self) -> Sequence[ClaimFacts]: ...


class EstimateFacts(Protocol):
    @property
    def category(self) -> CasualtyCategory: ...
    @property
    def best(self) -> int: ...


class IncidentFacts(Protocol):
    """What the ranges read of an incident: an Incident, or the public page's reading of its stored record."""

    @property
    def citations(self) -> Sequence[CitationFacts]: ...
    @property
    def estimates(self) -> Iterable[EstimateFacts]: ...


def figure(low: int, high: int) -> str:
    """ "17–18" for a range, "17" for one number."""
    return str(low) if low == high else f"{low}–{high}"


def group_key(group: str) -> str:
    """The group a name stands for: "Civilians", "civilians" and "civilians " are one."""
    return " ".join(group.split()).casefold()


def _widen(ranges: dict[Any, Range], key: Any, low: int, high: int) -> None:
    known = ranges.get(key)
    ranges[key] = (low, high) if known is None else (min(known[0], low), max(known[1], high))


def _citation_figures(claims: Iterable[Claim[K]]) -> tuple[dict[K, Range], dict[K, dict[str, Range]]]:
    """One citation's figures for whole categories, and, for the categories it counts only by group, each
    group's range (by group_key). Every save and every imported row comes through here: the common cases,
    no groups or groups beside a figure for the whole category, go straight."""
    whole: dict[K, Range] = {}
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
        return whole, _NO_GROUPS
    by_group: dict[K, dict[str, Range]] = {}
    for category, low, high, group in grouped:
        if category not in whole:
            _widen(by_group.setdefault(category, {}), group_key(group), low, high)
    return whole, by_group


_NO_GROUPS: dict[Any, Any] = {}


def _sum(groups: dict[str, Range]) -> Range:
    return sum(low for low, _ in groups.values()), sum(high for _, high in groups.values())


def incident_figures(citations: Iterable[Iterable[Claim[K]]]) -> dict[K, Range]:
    """Per category, the range of the citations' figures for the whole category; where none gives one, the
    range of their sums of figures per group."""
    ranges: dict[K, Range] = {}
    sums: dict[K, Range] | None = None
    for claims in citations:
        whole, by_group = _citation_figures(claims)
        for category, (low, high) in whole.items():
            known = ranges.get(category)
            ranges[category] = (low, high) if known is None else (min(known[0], low), max(known[1], high))
        if by_group:
            if sums is None:
                sums = {}
            for category, groups in by_group.items():
                _widen(sums, category, *_sum(groups))
    if sums:
        for category, summed in sums.items():
            ranges.setdefault(category, summed)
    return ranges


def loaded_figures(citations: Iterable[Mapping[str, Any]]) -> dict[CasualtyCategory, Range]:
    """incident_figures of citations as IncidentInputSchema loads them (each with its claims as dicts)."""
    return incident_figures(
        [(c["category"], c["low"], c["high"], c["group"]) for c in citation["claims"]]
        for citation in citations
    )


def breakdown_problems(claims: Iterable[Claim[K]]) -> list[tuple[K, int, int]]:
    """(category, the least its groups add up to, the most its whole figure allows) for each category whose
    figures per group, in one citation, add up to more than its figure for the whole category allows."""
    whole: dict[K, Range] = {}
    groups: dict[K, dict[str, Range]] = {}
    for category, low, high, group in claims:
        if group:
            _widen(groups.setdefault(category, {}), group_key(group), low, high)
        else:
            _widen(whole, category, low, high)
    problems = []
    for category, ranges in groups.items():
        least = sum(low for low, _ in ranges.values())
        if category in whole and least > whole[category][1]:
            problems.append((category, least, whole[category][1]))
    return problems


@dataclass(frozen=True)
class GroupRange:
    """One side or group within a category: the lowest low and highest high the sources give for it."""

    group: str  # as the first claim naming it spells it
    low: int
    high: int
    source_count: int

    @property
    def figure(self) -> str:
        return figure(self.low, self.high)


@dataclass(frozen=True)
class SourceFigure:
    """What one citation gives for a category, as the range counts it; `parts` are its figures per group
    when the figure is their sum."""

    citation: CitationFacts
    low: int
    high: int
    parts: tuple[tuple[str, str], ...] = ()  # (figure, group)

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
    # Citations giving only figures per group where others give the whole category's: not in the range.
    partial: tuple[SourceFigure, ...] = ()

    @property
    def figure(self) -> str:
        """ "17–18" for a range, "17" when every source agrees."""
        return figure(self.low, self.high)

    def __str__(self) -> str:
        sources = "1 source" if self.source_count == 1 else f"{self.source_count} sources"
        best = f", best estimate {self.best}" if self.best is not None else ""
        return f"{self.category.label.capitalize()}: {self.figure} ({sources}{best})"


def casualty_ranges(incident: IncidentFacts) -> list[CasualtyRange]:
    """Per category, in vocabulary order: the range (incident_figures), the best estimate, the number of
    sources giving any figure, each group's range (in the order the claims name them), and the citations'
    figures that make the range."""
    sources: dict[CasualtyCategory, set[int | None]] = {}
    groups: dict[CasualtyCategory, dict[str, Range]] = {}
    spelling: dict[str, str] = {}
    group_sources: dict[tuple[CasualtyCategory, str], set[int | None]] = {}
    whole_figures: dict[CasualtyCategory, list[SourceFigure]] = {}
    summed_figures: dict[CasualtyCategory, list[SourceFigure]] = {}
    for citation in incident.citations:
        for claim in citation.claims:
            sources.setdefault(claim.category, set()).add(citation.source_id)
            if claim.group:
                key = group_key(claim.group)
                spelling.setdefault(key, claim.group)
                _widen(groups.setdefault(claim.category, {}), key, claim.low, claim.high)
                group_sources.setdefault((claim.category, key), set()).add(citation.source_id)
        whole, by_group = _citation_figures((c.category, c.low, c.high, c.group) for c in citation.claims)
        for category, (low, high) in whole.items():
            whole_figures.setdefault(category, []).append(SourceFigure(citation, low, high))
        for category, parts in by_group.items():
            shown = tuple((figure(*part), spelling[key]) for key, part in parts.items())
            summed_figures.setdefault(category, []).append(SourceFigure(citation, *_sum(parts), shown))
    best = {estimate.category: estimate.best for estimate in incident.estimates}
    ranges = []
    for category in CasualtyCategory:
        counted = whole_figures.get(category) or summed_figures.get(category)
        if not counted:
            continue
        partial = summed_figures.get(category, []) if category in whole_figures else []
        ranges.append(
            CasualtyRange(
                category,
                min(f.low for f in counted),
                max(f.high for f in counted),
                best.get(category),
                len(sources[category]),
                tuple(
                    GroupRange(spelling[key], low, high, len(group_sources[category, key]))
                    for key, (low, high) in groups.get(category, {}).items()
                ),
                tuple(counted),
                tuple(partial),
            )
        )
    return ranges


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

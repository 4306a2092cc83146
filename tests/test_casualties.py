"""Ranges across claims, and totals over incidents."""

from __future__ import annotations

from incidents.domain.casualties import CasualtyRange, casualty_ranges, total_ranges
from incidents.models import CasualtyClaim, CasualtyEstimate, Citation, Incident, Source
from incidents.vocabulary import CasualtyCategory, SourceKind

KILLED, INJURED = CasualtyCategory.KILLED, CasualtyCategory.INJURED


def incident_with(*claims: tuple[int, CasualtyCategory, int, int]) -> Incident:
    incident = Incident(citations=[], estimates=[])
    by_source: dict[int, Citation] = {}
    for source_id, category, low, high in claims:
        if source_id not in by_source:
            citation = Citation(
                source=Source(id=source_id, title=f"s{source_id}", kind=SourceKind.PRESS), claims=[]
            )
            citation.source_id = source_id
            by_source[source_id] = citation
            incident.citations.append(citation)
        by_source[source_id].claims.append(CasualtyClaim(category=category, low=low, high=high))
    return incident


def test_range_spans_lowest_low_to_highest_high() -> None:
    incident = incident_with(
        (1, KILLED, 17, 17), (2, KILLED, 18, 18), (3, KILLED, 18, 18), (3, INJURED, 33, 33)
    )
    killed, injured = casualty_ranges(incident)
    assert (killed.low, killed.high, killed.source_count, killed.figure) == (17, 18, 3, "17–18")
    assert str(killed) == "Killed: 17–18 (3 sources)"
    assert str(injured) == "Injured: 33 (1 source)"


def test_one_source_with_its_own_range() -> None:
    (killed,) = casualty_ranges(incident_with((1, KILLED, 8, 10)))
    assert killed.figure == "8–10"


def test_best_estimate_is_shown() -> None:
    incident = incident_with((1, KILLED, 17, 17), (2, KILLED, 18, 18))
    incident.estimates.append(CasualtyEstimate(category=KILLED, best=18))
    assert str(casualty_ranges(incident)[0]) == "Killed: 17–18 (2 sources, best estimate 18)"


def test_no_claims_no_ranges() -> None:
    assert casualty_ranges(incident_with()) == []


def test_totals_add_lows_and_highs_separately() -> None:
    totals = total_ranges(
        [
            CasualtyRange(KILLED, 17, 18, None, 2),
            CasualtyRange(KILLED, 8, 10, None, 2),
            CasualtyRange(INJURED, 33, 33, None, 1),
        ]
    )
    assert [(t.category, t.low, t.high, t.incident_count, t.figure) for t in totals] == [
        (KILLED, 25, 28, 2, "25–28"),
        (INJURED, 33, 33, 1, "33"),
    ]

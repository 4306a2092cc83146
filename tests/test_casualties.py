"""Ranges across claims, and totals over incidents."""

from __future__ import annotations

from incidents.domain.casualties import (
    CasualtyRange,
    casualty_ranges,
    incident_figures,
    source_figures,
    total_ranges,
)
from incidents.models import CasualtyClaim, CasualtyEstimate, Citation, Incident, Source
from incidents.vocabulary import CasualtyCategory, SourceKind

KILLED, INJURED = CasualtyCategory.KILLED, CasualtyCategory.INJURED


def incident_with(
    *claims: tuple[int, CasualtyCategory, int, int] | tuple[int, CasualtyCategory, int, int, str],
) -> Incident:
    incident = Incident(citations=[], estimates=[])
    by_source: dict[int, Citation] = {}
    for source_id, category, low, high, *group in claims:
        if source_id not in by_source:
            citation = Citation(
                source=Source(id=source_id, title=f"s{source_id}", kind=SourceKind.PRESS), claims=[]
            )
            citation.source_id = source_id
            by_source[source_id] = citation
            incident.citations.append(citation)
        by_source[source_id].claims.append(
            CasualtyClaim(category=category, low=low, high=high, group=group[0] if group else "")
        )
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


def test_a_breakdown_by_group_does_not_widen_the_range() -> None:
    """UCDP: 6–8 killed in the event, of whom side A 0, side B 0, civilians 6, unknown 0. As totals the
    groups would make the range 0–8; as a breakdown of the same source's figure they leave it 6–8."""
    incident = incident_with(
        (1, KILLED, 6, 8),
        (1, KILLED, 0, 0, "JSS/SB (side A)"),
        (1, KILLED, 0, 0, "Civilians (side B)"),
        (1, KILLED, 6, 6, "civilians"),
        (1, KILLED, 0, 0, "unknown status"),
    )
    (killed,) = casualty_ranges(incident)
    assert (killed.low, killed.high, killed.source_count) == (6, 8, 1)
    assert [(g.group, g.figure, g.source_count) for g in killed.groups] == [
        ("JSS/SB (side A)", "0", 1),
        ("Civilians (side B)", "0", 1),
        ("civilians", "6", 1),
        ("unknown status", "0", 1),
    ]
    [figure] = killed.by_source
    assert (figure.figure, figure.summed) == ("6–8", False)


def test_a_source_giving_only_groups_counts_their_sum() -> None:
    """Juliaca: EFE 17 killed; another source only 17 civilians and 1 police officer, 18 in all: 17–18."""
    incident = incident_with(
        (1, KILLED, 17, 17),
        (2, KILLED, 17, 17, "civilians"),
        (2, KILLED, 1, 1, "police officers"),
        (3, INJURED, 2, 3, "police officers"),
        (3, INJURED, 30, 40, "protesters"),
    )
    killed, injured = casualty_ranges(incident)
    assert (killed.figure, killed.source_count) == ("17–18", 2)
    assert [(f.citation.source_id, f.figure, f.summed) for f in killed.by_source] == [
        (1, "17", False),
        (2, "18", True),
    ]
    assert [(g.group, g.figure) for g in killed.groups] == [("civilians", "17"), ("police officers", "1")]
    assert (injured.figure, injured.source_count) == ("32–43", 1)


def test_groups_across_sources_and_within_one() -> None:
    # Two sources give the same group: its range spans theirs. One source names a group twice (two
    # passages): that group's figure from it spans both, and is counted once in its sum.
    figures = source_figures(
        [("killed", 3, 3, "civilians"), ("killed", 2, 4, "civilians"), ("killed", 1, 1, "police officers")]
    )
    assert figures == {"killed": (3, 5)}
    assert incident_figures(
        [
            [("killed", 3, 3, "civilians"), ("killed", 1, 1, "police officers")],
            [("killed", 5, 6, "civilians")],
            [("killed", 2, 2, "")],
        ]
    ) == {"killed": (2, 6)}
    incident = incident_with((1, KILLED, 3, 3, "civilians"), (2, KILLED, 5, 6, "civilians"))
    (killed,) = casualty_ranges(incident)
    assert [(g.group, g.figure, g.source_count) for g in killed.groups] == [("civilians", "3–6", 2)]


def test_a_whole_figure_wins_over_the_sum_of_its_own_groups() -> None:
    # The source's own total is its figure, even when its groups add up to more (as sources sometimes do).
    assert source_figures([("killed", 5, 5, ""), ("killed", 4, 4, "a"), ("killed", 3, 3, "b")]) == {
        "killed": (5, 5)
    }


def test_figures_are_per_citation_so_a_breakdown_goes_in_the_same_block() -> None:
    """One source cited twice (p. 1: 18 dead; p. 2: 17 civilians) is two citations: the second's figure is 17.
    The same claims in one citation give 18: the breakdown beside its own total."""
    apart = incident_with((1, KILLED, 18, 18))
    second = Citation(source=apart.citations[0].source, claims=[])
    second.source_id = 1
    second.claims.append(CasualtyClaim(category=KILLED, low=17, high=17, group="civilians"))
    apart.citations.append(second)
    (killed,) = casualty_ranges(apart)
    assert (killed.figure, killed.source_count) == ("17–18", 1)
    together = incident_with((1, KILLED, 18, 18), (1, KILLED, 17, 17, "civilians"))
    (killed,) = casualty_ranges(together)
    assert (killed.figure, killed.source_count) == ("18", 1)

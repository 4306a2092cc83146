"""Ranges across claims, and totals over incidents."""

from __future__ import annotations

from incidents.domain.casualties import (
    CasualtyRange,
    breakdown_problems,
    casualty_ranges,
    incident_figures,
    total_ranges,
)
from incidents.models import CasualtyClaim, CasualtyEstimate, Citation, Incident, Source
from incidents.vocabulary import CasualtyCategory, SourceKind

KILLED, INJURED, DETAINED = CasualtyCategory.KILLED, CasualtyCategory.INJURED, CasualtyCategory.DETAINED


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
    assert (figure.figure, figure.parts) == ("6–8", ())


def test_a_part_of_a_breakdown_is_not_taken_for_a_total() -> None:
    """Juliaca: EFE 17 killed; La República 18, of whom 17 civilians and 1 police officer; a police statement
    only "1 police officer". The police figure is a part, not a total of 1: the range stays 17–18."""
    incident = incident_with(
        (1, KILLED, 17, 17),
        (2, KILLED, 18, 18),
        (2, KILLED, 17, 17, "civilians"),
        (2, KILLED, 1, 1, "police officers"),
        (3, KILLED, 1, 1, "Police officers "),
    )
    (killed,) = casualty_ranges(incident)
    assert (killed.figure, killed.source_count) == ("17–18", 3)
    assert [(f.citation.source_id, f.figure) for f in killed.by_source] == [(1, "17"), (2, "18")]
    assert [(f.citation.source_id, f.parts) for f in killed.partial] == [(3, (("1", "police officers"),))]
    # One group, whatever its capitals and spacing; named as first spelled.
    assert [(g.group, g.figure, g.source_count) for g in killed.groups] == [
        ("civilians", "17", 1),
        ("police officers", "1", 2),
    ]
    claims = [[("killed", 17, 17, "")], [("killed", 1, 1, "police officers")]]
    assert incident_figures(claims) == {"killed": (17, 17)}


def test_where_no_source_gives_a_whole_figure_the_sums_of_groups_make_the_range() -> None:
    """San Marcos: one NGO counts 150 students and 43–50 people from the regions; another 190 and 10."""
    incident = incident_with(
        (1, DETAINED, 150, 150, "students"),
        (1, DETAINED, 43, 50, "people from the regions"),
        (2, DETAINED, 190, 190, "Students"),
        (2, DETAINED, 10, 10, "people from the regions"),
        (2, INJURED, 3, 3, "students"),
    )
    injured, detained = casualty_ranges(incident)  # in the vocabulary's order
    assert (detained.figure, detained.source_count) == ("193–200", 2)
    assert [(f.figure, f.parts) for f in detained.by_source] == [
        ("193–200", (("150", "students"), ("43–50", "people from the regions"))),
        ("200", (("190", "students"), ("10", "people from the regions"))),
    ]
    assert [(g.group, g.figure) for g in detained.groups] == [
        ("students", "150–190"),
        ("people from the regions", "10–50"),
    ]
    assert injured.figure == "3"


def test_groups_across_sources_and_within_one() -> None:
    # One source names a group twice (two passages): that group's figure from it spans both, and is
    # counted once in its sum.
    one_citation = [
        ("killed", 3, 3, "civilians"),
        ("killed", 2, 4, "Civilians"),
        ("killed", 1, 1, "police officers"),
    ]
    figures = incident_figures([one_citation])
    assert figures == {"killed": (3, 5)}
    assert incident_figures(
        [
            [("killed", 3, 3, "civilians"), ("killed", 1, 1, "police officers")],
            [("killed", 5, 6, "civilians")],
        ]
    ) == {"killed": (4, 6)}


def test_a_whole_figure_wins_over_the_sum_of_its_own_groups() -> None:
    # The citation's own total is its figure; groups adding up to more are a problem the schema reports.
    claims = [("killed", 5, 5, ""), ("killed", 4, 4, "a"), ("killed", 3, 3, "b")]
    assert incident_figures([claims]) == {"killed": (5, 5)}
    assert breakdown_problems(claims) == [("killed", 7, 5)]
    assert breakdown_problems([("killed", 5, 9, ""), ("killed", 4, 4, "a"), ("killed", 3, 5, "A")]) == []


def test_figures_are_per_citation_so_a_breakdown_goes_in_the_same_block() -> None:
    """One source cited twice (p. 1: 18 dead; p. 2: 17 civilians, 1 police officer) is two citations. The
    second gives no figure for the whole category, so it does not count in the range; its groups show."""
    apart = incident_with((1, KILLED, 18, 18))
    second = Citation(source=apart.citations[0].source, claims=[])
    second.source_id = 1
    second.claims.append(CasualtyClaim(category=KILLED, low=17, high=17, group="civilians"))
    apart.citations.append(second)
    (killed,) = casualty_ranges(apart)
    assert (killed.figure, killed.source_count, len(killed.by_source)) == ("18", 1, 1)
    assert [(g.group, g.figure) for g in killed.groups] == [("civilians", "17")]

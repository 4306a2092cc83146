"""How incidents look on the map and the timeline: a colour per incident type, sizes by casualties."""

from __future__ import annotations

import math
from collections.abc import Iterable

# When an incident has several types, the first of these decides its colour: the gravest act shows.
TYPE_PRECEDENCE = (
    "killing",
    "enforced_disappearance",
    "sexual_violence",
    "ill_treatment_torture",
    "injury",
    "mass_roundup",
    "arrest_detention",
    "raid",
    "destruction_of_property",
    "threat_harassment",
    "curfew",
    "state_of_emergency",
    "movement_restriction",
    "stigmatisation",
)

# Distinct, colour-blind-aware hues (after the Okabe–Ito and Tableau palettes); types admins add are grey.
TYPE_COLOURS = {
    "killing": "#b2182b",
    "enforced_disappearance": "#542788",
    "sexual_violence": "#cc79a7",
    "ill_treatment_torture": "#d6604d",
    "injury": "#e69f00",
    "mass_roundup": "#0072b2",
    "arrest_detention": "#56b4e9",
    "raid": "#009e73",
    "destruction_of_property": "#8c510a",
    "threat_harassment": "#999933",
    "curfew": "#4d4d4d",
    "state_of_emergency": "#35978f",
    "movement_restriction": "#80cdc1",
    "stigmatisation": "#bf812d",
}
OTHER_COLOUR = "#777777"


def primary_type(slugs: Iterable[str]) -> str | None:
    """The type that decides an incident's colour."""
    slugs = list(slugs)
    for slug in TYPE_PRECEDENCE:
        if slug in slugs:
            return slug
    return slugs[0] if slugs else None


def type_colour(slug: str | None) -> str:
    return TYPE_COLOURS.get(slug or "", OTHER_COLOUR)


def marker_radius(people: int) -> int:
    """Pixels: 6 when no one was killed, injured or detained, growing with the log of the count."""
    return min(6 + round(3 * math.log2(1 + people)), 26)

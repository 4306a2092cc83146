"""UCDP and ACLED event types as our incident types.

UCDP records deaths: every event is a killing. ACLED's sub-event types map onto our list where one fits;
violent sub-event types are killings when ACLED counts fatalities and something milder when it counts none.
Sub-event types with no fit here (a peaceful protest, an agreement) are reported per row: map them in a
mapping file ("values": {"types": {...}}) or leave those rows out with --skip-invalid.
"""

from __future__ import annotations

UCDP_TYPE = "killing"

UCDP_TYPE_OF_VIOLENCE = {
    "1": "state-based conflict",
    "2": "non-state conflict",
    "3": "one-sided violence",
}

# sub_event_type → the type whatever the fatalities
ACLED_TYPES = {
    "Arrests": "arrest_detention",
    "Abduction/forced disappearance": "enforced_disappearance",
    "Sexual violence": "sexual_violence",
    "Looting/property destruction": "destruction_of_property",
}

# sub_event_type → the type when ACLED counts no fatalities (with fatalities: killing)
ACLED_NON_LETHAL_TYPES: dict[str, str | None] = {
    "Attack": "injury",
    "Excessive force against protesters": "injury",
    "Protest with intervention": "threat_harassment",
    "Violent demonstration": "threat_harassment",
    "Mob violence": "threat_harassment",
    "Air/drone strike": "destruction_of_property",
    "Shelling/artillery/missile attack": "destruction_of_property",
    "Remote explosive/landmine/IED": "destruction_of_property",
    "Grenade": "destruction_of_property",
    "Suicide bomb": "destruction_of_property",
    "Chemical weapon": "injury",
    # Battles without deaths are not an incident type here.
    "Armed clash": None,
    "Government regains territory": None,
    "Non-state actor overtakes territory": None,
}


def acled_type(sub_event_type: str, fatalities: int | None, overrides: dict[str, str]) -> str | None:
    """Our type slug for an ACLED sub-event type, or None when there is none (the row is reported)."""
    name = sub_event_type.strip()
    if name in overrides:
        return overrides[name]
    folded = {key.casefold(): value for key, value in overrides.items()}
    if name.casefold() in folded:
        return folded[name.casefold()]
    if name in ACLED_TYPES:
        return ACLED_TYPES[name]
    if name in ACLED_NON_LETHAL_TYPES:
        if fatalities:
            return "killing"
        return ACLED_NON_LETHAL_TYPES[name]
    return None

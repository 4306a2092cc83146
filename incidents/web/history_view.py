"""An audit entry's changes in words, for the history page: each field's label, its old and new value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from incidents.audit import is_tombstone
from incidents.domain.casualties import figure

_LABELS = {
    "title": "Title",
    "narrative": "Narrative",
    "types": "Types",
    "start_date": "Start date",
    "end_date": "End date",
    "date_precision": "Date precision",
    "place_name": "Place",
    "admin1": "Admin-1 region",
    "admin2": "Admin-2 region",
    "country": "Country",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "location_precision": "Location precision",
    "location_sensitive": "Sensitive location",
    "location_sensitive_reason": "Why the location is sensitive",
    "perpetrators": "Perpetrators",
    "victims": "Victims",
    "verification_grade": "Verification grade",
    "status": "Status",
    "confidential_notes": "Confidential notes",
    "citations": "Sources and figures",
    "estimates": "Best estimates",
}


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


def described(changes: dict[str, list[Any]]) -> list[FieldChange]:
    """The changes of an entry, field by field, in the order of the form."""
    if is_tombstone(changes):
        return [FieldChange("Every value", erased_text(changes), erased_text(changes))]
    order = list(_LABELS)
    names = sorted(changes, key=lambda name: (order.index(name) if name in order else len(order), name))
    return [
        FieldChange(
            _LABELS.get(name, name.replace("_", " ").capitalize()), _text(name, old), _text(name, new)
        )
        for name in names
        for old, new in [changes[name]]
    ]


def erased_text(value: Any) -> str:
    """What the history shows in place of a value an erasure removed."""
    return f"(erased: audit entry {value['erasure_seq']})"


def _text(name: str, value: Any) -> str:
    if is_tombstone(value):
        return erased_text(value)
    if value is None or value == "" or value == []:
        return "—"
    if name == "citations" and isinstance(value, list):
        return "\n".join(_citation(citation) for citation in value)
    if name == "estimates" and isinstance(value, list):
        return "; ".join(f"{e.get('category')} {e.get('best')}" for e in value if isinstance(e, dict))
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _citation(citation: Any) -> str:
    if is_tombstone(citation):
        return f"a citation {erased_text(citation)}"
    if not isinstance(citation, dict):
        return str(citation)
    source = citation.get("source") or f"source {citation.get('source_id')}"
    where = f" ({citation['locator']})" if citation.get("locator") else ""
    claims = "; ".join(
        f"{claim.get('category')}{', ' + claim['group'] if claim.get('group') else ''} "
        f"{figure(claim.get('low', 0), claim.get('high', 0))}"
        for claim in citation.get("claims") or []
        if isinstance(claim, dict)
    )
    return f"{source}{where}: {claims or 'no figures'}"

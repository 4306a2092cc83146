"""The incident form: flat HTML field names to schema input and back, errors beside their fields.

Field names follow one pattern: `title`, `citations-0-locator`, `citations-0-source-title`,
`citations-0-claims-1-low`, `best-killed`. What the user typed is kept as typed (strings), so a form
that fails validation comes back exactly as it was sent.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from incidents.schemas.errors import Path, grouped
from incidents.schemas.incident import SCALAR_FIELDS
from incidents.vocabulary import CasualtyCategory

# The incident's own fields as the domain layer writes them, and the version the editor started from.
INCIDENT_FIELDS = (*SCALAR_FIELDS, "version")
SOURCE_FIELDS = (
    "title",
    "kind",
    "publisher",
    "author",
    "publication_date",
    "url",
    "accessed_date",
    "archive_url",
    "language",
    "reliability",
    "confidential",
)
# A new source's fields that have a value before anyone types: a block with only these is blank.
_PRESET_SOURCE_FIELDS = ("kind", "reliability", "confidential")
CITATION_FIELDS = ("source_id", "locator", "quote")
CLAIM_FIELDS = ("category", "low", "high", "group")
MAX_ROWS = 200  # citations per incident, claims per citation: a bound on what one form may carry


def typed_from_form(form: MultiDict[str, str], *, keep: int | None = None) -> dict[str, Any]:
    """What the user typed, as a nested structure of strings, with blank rows dropped (except the source
    block numbered `keep`, which the user is adding a claim row to)."""
    typed: dict[str, Any] = {name: form.get(name, "") for name in INCIDENT_FIELDS}
    typed["reason"] = form.get("reason", "")  # why a published incident is corrected: not its content
    typed["types"] = form.getlist("types")
    typed["citations"] = []
    for i in range(MAX_ROWS):
        prefix = f"citations-{i}-"
        if not any(key.startswith(prefix) for key in form):
            continue
        if form.get(prefix + "remove"):
            continue
        citation: dict[str, Any] = {name: form.get(prefix + name, "") for name in CITATION_FIELDS}
        citation["form_index"] = i  # the block's number in the form this came from
        citation["source"] = {name: form.get(f"{prefix}source-{name}", "") for name in SOURCE_FIELDS}
        citation["claims"] = []
        for j in range(MAX_ROWS):
            claim = {name: form.get(f"{prefix}claims-{j}-{name}", "") for name in CLAIM_FIELDS}
            if any(value.strip() for value in claim.values()):
                citation["claims"].append(claim)
        if _citation_is_blank(citation) and i != keep:
            continue
        typed["citations"].append(citation)
    typed["estimates"] = {c.value: form.get(f"best-{c.value}", "") for c in CasualtyCategory}
    return typed


def _citation_is_blank(citation: dict[str, Any]) -> bool:
    source_typed = any(
        value.strip() for key, value in citation["source"].items() if key not in _PRESET_SOURCE_FIELDS
    )
    return not (
        citation["source_id"].strip()
        or source_typed
        or citation["locator"].strip()
        or citation["quote"].strip()
        or citation["claims"]
    )


def schema_input(typed: dict[str, Any]) -> dict[str, Any]:
    """Schema input from typed form content: blank strings count as not given."""
    data: dict[str, Any] = _without_blanks({name: typed[name] for name in INCIDENT_FIELDS})
    data["types"] = list(typed["types"])
    data["citations"] = []
    for citation in typed["citations"]:
        entry: dict[str, Any] = _without_blanks({name: citation[name] for name in CITATION_FIELDS})
        source = _without_blanks(citation["source"])
        if set(source) - set(_PRESET_SOURCE_FIELDS):
            entry["source"] = source
        entry["claims"] = [_without_blanks(claim) for claim in citation["claims"]]
        data["citations"].append(entry)
    data["estimates"] = [
        {"category": category, "best": best} for category, best in typed["estimates"].items() if best.strip()
    ]
    return data


def _without_blanks(values: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in values.items() if isinstance(value, str) and value.strip()}


def typed_from_input(data: dict[str, Any]) -> dict[str, Any]:
    """Typed form content from schema input (an existing incident being edited)."""
    typed: dict[str, Any] = {name: _as_text(data.get(name)) for name in INCIDENT_FIELDS}
    typed["reason"] = ""
    typed["types"] = list(data.get("types", []))
    typed["citations"] = [
        {
            "source_id": _as_text(c.get("source_id")),
            "locator": _as_text(c.get("locator")),
            "quote": _as_text(c.get("quote")),
            "source": {name: "" for name in SOURCE_FIELDS},
            "claims": [{name: _as_text(k.get(name)) for name in CLAIM_FIELDS} for k in c.get("claims", [])],
        }
        for c in data.get("citations", [])
    ]
    best = {e["category"]: _as_text(e["best"]) for e in data.get("estimates", [])}
    typed["estimates"] = {c.value: best.get(c.value, "") for c in CasualtyCategory}
    return typed


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""  # a checkbox's value, as the form sends it
    return "" if value is None else str(value)


def blank_citation() -> dict[str, Any]:
    return {
        "source_id": "",
        "locator": "",
        "quote": "",
        "source": {name: "" for name in SOURCE_FIELDS},
        "claims": [],
    }


def flat_errors(errors: dict[str, Any], typed: dict[str, Any]) -> dict[str, str]:
    """marshmallow's nested errors keyed by the form's field names."""
    estimate_categories = [c for c, best in typed["estimates"].items() if best.strip()]
    return {
        name: " ".join(texts)
        for name, texts in grouped(errors, lambda path: _field_name(path, estimate_categories)).items()
    }


def _field_name(path: Path, estimate_categories: list[str]) -> str:
    """The form's name for a field path: citations-0-claims-1-high, best-killed, or form for the whole."""
    if path[:1] == ("estimates",) and len(path) >= 2 and str(path[1]).isdigit():
        index = int(path[1])
        if index < len(estimate_categories):
            return f"best-{estimate_categories[index]}"
    return "-".join(str(part) for part in path) or "form"

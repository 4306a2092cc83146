"""Location rules: an admin's standing instruction to publish every incident citing a source, of a type, or in
an admin-1 region at a coarsened location. Adding or removing one moves the public location of every
incident it covers (derived.public_locations), in the same transaction, and is written to the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from incidents import audit
from incidents.audit import Actor
from incidents.derived import public_locations
from incidents.extensions import db
from incidents.models import Incident, IncidentType, LocationRule, Source
from incidents.schemas.location_rule import LocationRuleSchema
from incidents.services.refresh import before_change, refresh
from incidents.vocabulary import LocationRuleKind


class RuleRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def rules() -> list[LocationRule]:
    return list(db.session.scalars(sa.select(LocationRule).order_by(LocationRule.id)))


def describe(rule: LocationRule) -> str:
    """What the rule covers, in words."""
    if rule.kind == LocationRuleKind.SOURCE:
        source = db.session.get(Source, rule.source_id)
        return f"incidents citing source {rule.source_id}" + (f" ({source.title})" if source else "")
    if rule.kind == LocationRuleKind.INCIDENT_TYPE:
        incident_type = db.session.get(IncidentType, rule.incident_type_id)
        return f"incidents of type {incident_type.label if incident_type else rule.incident_type_id}"
    return f"incidents in {rule.admin1} ({rule.country})"


def _snapshot(rule: LocationRule) -> dict[str, Any]:
    return {
        "kind": rule.kind.value,
        "source_id": rule.source_id,
        "incident_type_id": rule.incident_type_id,
        "country": rule.country,
        "admin1": rule.admin1,
        "grid_degrees": rule.grid_degrees,
    }


def _covered(rule: LocationRule) -> list[int]:
    return public_locations.covered_by(db.session.connection(), _snapshot(rule))


def add_rule(raw: Mapping[str, Any], actor: Actor) -> tuple[LocationRule, int]:
    """A new rule (ValidationError naming the field when the input is wrong), and how many incidents it
    covers: their public locations are coarsened at once."""
    data = LocationRuleSchema().load(raw)
    rule = LocationRule(
        kind=data["kind"],
        source_id=data["source_id"] if data["kind"] == LocationRuleKind.SOURCE else None,
        incident_type_id=data.get("incident_type_id"),
        country=data["country"] if data["kind"] == LocationRuleKind.REGION else "",
        admin1=data["admin1"] if data["kind"] == LocationRuleKind.REGION else "",
        grid_degrees=data["grid_degrees"],
        reason=data["reason"],
        created_by_id=actor.user_id,
    )
    db.session.add(rule)
    db.session.flush()
    covered = _covered(rule)
    # The rule is in the table already: what the map needs to know of the incidents before is read from
    # their rows, which still hold the public location from before it.
    refresh(covered, before_change(covered))
    audit.record(
        db.session.connection(),
        actor,
        "location_rule.add",
        "location_rule",
        rule.id,
        changes=audit.changes(None, _snapshot(rule)),
        reason=rule.reason,
        details={"incidents": len(covered)},
    )
    return rule, len(covered)


def remove_rule(rule: LocationRule, actor: Actor, *, reason: str) -> int:
    """Remove a rule (why is asked: it makes locations public again); how many incidents it covered."""
    if not reason.strip():
        raise RuleRefused("reason", "Say why the rule goes: locations it coarsened may become exact again.")
    covered = _covered(rule)
    before = before_change(covered)
    old = _snapshot(rule)
    rule_id = rule.id
    db.session.delete(rule)
    db.session.flush()
    refresh(covered, before)
    audit.record(
        db.session.connection(),
        actor,
        "location_rule.remove",
        "location_rule",
        rule_id,
        changes=audit.changes(old, None),
        reason=reason.strip(),
        details={"incidents": len(covered)},
    )
    return len(covered)


def refresh_all(commit: Callable[[], None], progress: Callable[[int], None] | None = None) -> int:
    """Recompute every incident's public location (after LOCATION_GRID_DEGREES changed), batch by batch,
    each committed, with the map's rollup and the stored records; how many moved."""
    moved = last = 0
    while True:
        query = sa.select(Incident.id).where(Incident.id > last).order_by(Incident.id).limit(2000)
        ids = list(db.session.scalars(query))
        if not ids:
            return moved
        wrong = public_locations.check(db.session.connection(), ids)
        if wrong:
            refresh(wrong, before_change(wrong))
        commit()
        moved += len(wrong)
        last = ids[-1]
        if progress is not None:
            progress(moved)

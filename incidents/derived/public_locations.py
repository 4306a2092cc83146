"""The location the public sees of each incident (public_latitude … location_coarsened), kept on its row.

Derived by the one policy of domain.sensitivity from the incident's recorded location, its "sensitive" mark
and the location rules that cover it (a source it cites, a type it has, its admin-1 region), so that every
public output (map, rollup, timeline, list, incident page, API, exports, stored records, citation line)
reads the same coarsened values from the same columns, and no query over many incidents needs the rules.
`refresh` rewrites the columns of incidents a change touched; `computed_one` gives the values for a row the
bulk writer is about to insert; `check` compares with what the rules give now.

The grid of a mark, and of a rule without its own, is the configured LOCATION_GRID_DEGREES: a change of it
takes `flask --app incidents public-locations` (which rewrites every incident's columns, the map's rollup
and the stored records).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa
from flask import current_app, has_app_context

from incidents.derived.rows import write_columns
from incidents.domain.sensitivity import DEFAULT_GRID, public_location
from incidents.models import Citation, Incident, LocationRule, incident_type_links
from incidents.vocabulary import LocationPrecision, LocationRuleKind

INCIDENTS = cast(sa.Table, Incident.__table__)
CITATIONS = cast(sa.Table, Citation.__table__)
RULES = cast(sa.Table, LocationRule.__table__)
LINKS = incident_type_links
COLUMNS = (
    "public_latitude",
    "public_longitude",
    "public_place_name",
    "public_location_precision",
    "location_coarsened",
)
# What of an incident's own row decides its public location.
INPUTS = (
    "latitude",
    "longitude",
    "place_name",
    "admin1",
    "admin2",
    "country",
    "location_precision",
    "location_sensitive",
)
IN_CHUNK = 500


def configured_grid() -> float:
    """The grid of a "sensitive" mark: LOCATION_GRID_DEGREES of the app at hand (checked at start)."""
    if has_app_context():
        return float(current_app.config.get("LOCATION_GRID_DEGREES", DEFAULT_GRID))
    return DEFAULT_GRID


def region_key(country: str, admin1: str) -> tuple[str, str]:
    """How a region rule and an incident's region are compared: the country's code, the name in any case
    and spacing around it (in Python: SQLite's lower() knows only ASCII letters)."""
    return country.upper(), admin1.strip().casefold()


@dataclass
class Rules:
    """The location rules, by what they cover: grid in degrees (the configured grid where a rule has none)."""

    by_source: dict[int, float] = field(default_factory=dict)
    by_type: dict[int, float] = field(default_factory=dict)
    by_region: dict[tuple[str, str], float] = field(default_factory=dict)

    def region_grid(self, country: str, admin1: str) -> float | None:
        return self.by_region.get(region_key(country, admin1)) if admin1 else None


def rules(connection: sa.Connection, grid: float) -> Rules:
    """Every rule (a handful: they are read whole), the coarsest grid kept where two cover the same thing."""
    found = Rules()
    for row in connection.execute(sa.select(RULES)):
        rule_grid = row.grid_degrees or grid
        kind = LocationRuleKind(row.kind)
        if kind == LocationRuleKind.SOURCE:
            table: dict[Any, float] = found.by_source
            key: Any = row.source_id
        elif kind == LocationRuleKind.INCIDENT_TYPE:
            table, key = found.by_type, row.incident_type_id
        else:
            table, key = found.by_region, region_key(row.country, row.admin1)
        table[key] = max(table.get(key, 0.0), rule_grid)
    return found


def computed_one(
    values: Mapping[str, Any], source_ids: Iterable[int], type_ids: Iterable[int], rules: Rules, grid: float
) -> dict[str, Any]:
    """The public columns of one incident: its INPUTS (values), the sources it cites and its type ids."""
    grids = [grid] if values["location_sensitive"] else []
    grids += [rules.by_source[i] for i in source_ids if i in rules.by_source]
    grids += [rules.by_type[i] for i in type_ids if i in rules.by_type]
    region = rules.region_grid(values["country"] or "", values["admin1"] or "")
    if region is not None:
        grids.append(region)
    shown = public_location(
        latitude=values["latitude"],
        longitude=values["longitude"],
        place_name=values["place_name"] or "",
        admin1=values["admin1"] or "",
        admin2=values["admin2"] or "",
        precision=LocationPrecision(values["location_precision"]),
        grid=max(grids) if grids else None,
    )
    return {
        "public_latitude": shown.latitude,
        "public_longitude": shown.longitude,
        "public_place_name": shown.place_name,
        "public_location_precision": shown.precision.value,
        "location_coarsened": shown.coarsened,
    }


def computed(
    connection: sa.Connection, incident_ids: Sequence[int], grid: float
) -> dict[int, dict[str, Any]]:
    """The public columns of these incidents, from their rows, citations, types and the rules now."""
    known = rules(connection, grid)
    values: dict[int, dict[str, Any]] = {}
    for start in range(0, len(incident_ids), IN_CHUNK):
        chunk = list(incident_ids[start : start + IN_CHUNK])
        sources: dict[int, set[int]] = defaultdict(set)
        types: dict[int, set[int]] = defaultdict(set)
        if known.by_source:
            query = sa.select(CITATIONS.c.incident_id, CITATIONS.c.source_id)
            for incident_id, source_id in connection.execute(query.where(CITATIONS.c.incident_id.in_(chunk))):
                sources[incident_id].add(source_id)
        if known.by_type:
            query = sa.select(LINKS.c.incident_id, LINKS.c.incident_type_id)
            for incident_id, type_id in connection.execute(query.where(LINKS.c.incident_id.in_(chunk))):
                types[incident_id].add(type_id)
        columns = [INCIDENTS.c.id, *(sa.type_coerce(INCIDENTS.c[name], _plain(name)) for name in INPUTS)]
        for row in connection.execute(sa.select(*columns).where(INCIDENTS.c.id.in_(chunk))):
            incident = dict(zip(INPUTS, row[1:], strict=True))
            values[row[0]] = computed_one(incident, sources[row[0]], types[row[0]], known, grid)
    return values


def _plain(name: str) -> Any:
    """Enums read as their stored text (the policy takes values, as the bulk writer has them)."""
    column = INCIDENTS.c[name]
    return sa.String if isinstance(column.type, sa.Enum) else column.type


def stored(connection: sa.Connection, incident_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The public columns of these incidents as their rows hold them."""
    found: dict[int, dict[str, Any]] = {}
    columns = [INCIDENTS.c.id, *(sa.type_coerce(INCIDENTS.c[name], _plain(name)) for name in COLUMNS)]
    for start in range(0, len(incident_ids), IN_CHUNK):
        chunk = list(incident_ids[start : start + IN_CHUNK])
        for row in connection.execute(sa.select(*columns).where(INCIDENTS.c.id.in_(chunk))):
            found[row[0]] = {name: _normal(name, value) for name, value in zip(COLUMNS, row[1:], strict=True)}
    return found


def _normal(name: str, value: Any) -> Any:
    return bool(value) if name == "location_coarsened" else value


def refresh(connection: sa.Connection, incident_ids: Iterable[int], grid: float | None = None) -> list[int]:
    """Rewrite the public columns of these incidents that differ from what the policy gives; their ids."""
    ids = sorted(set(incident_ids))
    fresh = computed(connection, ids, configured_grid() if grid is None else grid)
    now = stored(connection, ids)
    changed = {i: values for i, values in fresh.items() if i in now and now[i] != values}
    write_columns(connection, COLUMNS, changed)
    return list(changed)


def check(connection: sa.Connection, incident_ids: Sequence[int], grid: float | None = None) -> list[int]:
    """The ids among these whose public columns are not what the policy gives now."""
    fresh = computed(connection, incident_ids, configured_grid() if grid is None else grid)
    now = stored(connection, incident_ids)
    return [i for i in incident_ids if i in now and now[i] != fresh[i]]


def covered_by(connection: sa.Connection, rule: Mapping[str, Any]) -> list[int]:
    """The ids of the incidents a rule (its kind and target) covers: those whose public location it moves."""
    kind = LocationRuleKind(rule["kind"])
    if kind == LocationRuleKind.SOURCE:
        query = sa.select(CITATIONS.c.incident_id).where(CITATIONS.c.source_id == rule["source_id"])
    elif kind == LocationRuleKind.INCIDENT_TYPE:
        query = sa.select(LINKS.c.incident_id).where(LINKS.c.incident_type_id == rule["incident_type_id"])
    else:
        country, _ = wanted = region_key(rule["country"], rule["admin1"])
        query = sa.select(INCIDENTS.c.id, INCIDENTS.c.admin1).where(INCIDENTS.c.country == country)
        return sorted(i for i, name in connection.execute(query) if region_key(country, name) == wanted)
    return sorted(set(connection.scalars(query)))

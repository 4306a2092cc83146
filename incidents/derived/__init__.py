"""Derived data: what is computed from the incidents and kept beside them, so that reads over many are fast.

Four stores, each a function of the incidents, their citations, sources, claims, estimates and types (and the
location rules):
- the range columns of each incident (killed_low … displaced_high, source_count): derived.ranges;
- the location the public sees of each incident (public_latitude … location_coarsened):
  derived.public_locations;
- the map's rollup of incidents per grid cell, at their public locations (map_cells): derived.map_cells;
- each incident's stored public record, the bytes the JSON export streams (incident_records):
  derived.stored_records.

Nothing keeps them by itself. Every service that changes incidents reads `before_change` of the incidents it
is about to change, makes the change, flushes, and calls `refresh` with the same ids: the three stores are
then true for them, in the same transaction. The bulk writer, which inserts rows around the ORM, computes the
same values from the rows it inserts with the same functions (`ranges.columns`, the record serializer,
`map_cells.add_rows`). `check` compares all three with a rebuild; the tests run it after every test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from incidents.derived import map_cells, public_locations, ranges, stored_records
from incidents.models import Incident

INCIDENTS = cast(sa.Table, Incident.__table__)


@dataclass(frozen=True)
class Before:
    """What the derived stores need to know of incidents before a change: the values that put each in its
    map cells (an incident not found is new)."""

    map_values: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


NEW = Before()  # for incidents that did not exist before the change


def before_change(connection: sa.Connection, incident_ids: Iterable[int]) -> Before:
    """Read, before changing these incidents, what refresh will need to move them in the map's rollup."""
    return Before(map_cells.values(connection, sorted(set(incident_ids))))


def refresh(connection: sa.Connection, incident_ids: Iterable[int], *, before: Before) -> None:
    """Make the four stores true for these incidents, after a change flushed in this transaction.

    The range columns are computed from the claims as stored and the public location from the location and
    the rules, then the map's rollup moves each incident from where `before` put it to where its row puts it
    now, then the stored records are rebuilt.
    """
    ids = sorted(set(incident_ids))
    if not ids:
        return
    ranges.refresh(connection, ids)
    public_locations.refresh(connection, ids)
    map_cells.apply_change(connection, before.map_values, map_cells.values(connection, ids))
    stored_records.refresh(connection, ids)


def check(connection: sa.Connection, limit: int = 10) -> list[str]:
    """What differs, in any of the four stores, from what a rebuild would give (at most limit per store)."""
    problems: list[str] = []
    last = 0
    wrong_ranges: list[int] = []
    wrong_places: list[int] = []
    while len(wrong_ranges) < limit and len(wrong_places) < limit:
        query = sa.select(INCIDENTS.c.id).where(INCIDENTS.c.id > last).order_by(INCIDENTS.c.id).limit(2000)
        ids = list(connection.scalars(query))
        if not ids:
            break
        wrong_ranges += ranges.check(connection, ids)
        wrong_places += public_locations.check(connection, ids)
        last = ids[-1]
    problems += [f"range columns of incident {i} are not what its claims give" for i in wrong_ranges[:limit]]
    problems += [
        f"public location of incident {i} is not what its location and the rules give"
        for i in wrong_places[:limit]
    ]
    problems += map_cells.check(connection, limit)
    problems += [
        f"stored record of incident {i} is missing or out of date"
        for i in stored_records.check(connection, limit)
    ]
    return problems

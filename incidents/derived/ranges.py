"""The casualty range columns of incidents (killed_low … displaced_high) and their source_count.

Derived from the claims by the one rule of domain.casualties, so that maps, filters, totals and exports over
many incidents need no join. `refresh` reads the claims of the incidents a change touched and rewrites the
columns that differ; `columns` gives the same values for claims at hand (a row the bulk writer is about to
insert, as loaded by the schema).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa

from incidents.derived.rows import write_columns
from incidents.domain.casualties import incident_figures, loaded_figures
from incidents.models import CasualtyClaim, Citation, Incident
from incidents.vocabulary import CasualtyCategory

INCIDENTS = cast(sa.Table, Incident.__table__)
CITATIONS = cast(sa.Table, Citation.__table__)
CLAIMS = cast(sa.Table, CasualtyClaim.__table__)

# (category value, low column, high column) in vocabulary order.
_NAMES = [(c.value, f"{c.value}_low", f"{c.value}_high") for c in CasualtyCategory]
RANGE_COLUMNS = tuple(name for _, low, high in _NAMES for name in (low, high))
COLUMNS = (*RANGE_COLUMNS, "source_count")
IN_CHUNK = 500  # ids per IN (…): well under SQLite's and PostgreSQL's parameter limits


def _as_columns(ranges: Mapping[Any, tuple[int, int]]) -> dict[str, int | None]:
    columns: dict[str, int | None] = {}
    for category, low, high in _NAMES:
        figures = ranges.get(category)
        columns[low], columns[high] = figures if figures is not None else (None, None)
    return columns


def columns(citations: Sequence[Mapping[str, Any]]) -> dict[str, int | None]:
    """The range columns for citations as IncidentInputSchema loads them (source_count aside: the writer
    knows its sources by key)."""
    return _as_columns({c.value: r for c, r in loaded_figures(citations).items()})


def computed(connection: sa.Connection, incident_ids: Sequence[int]) -> dict[int, dict[str, int | None]]:
    """The range columns and source_count of these incidents, from their claims as stored now."""
    values: dict[int, dict[str, int | None]] = {}
    for start in range(0, len(incident_ids), IN_CHUNK):
        chunk = list(incident_ids[start : start + IN_CHUNK])
        claims: dict[int, dict[int, list[tuple[str, int, int, str]]]] = defaultdict(dict)
        sources: dict[int, set[int]] = defaultdict(set)
        citations = sa.select(CITATIONS.c.incident_id, CITATIONS.c.id, CITATIONS.c.source_id).where(
            CITATIONS.c.incident_id.in_(chunk)
        )
        for incident_id, citation_id, source_id in connection.execute(citations):
            claims[incident_id][citation_id] = []
            sources[incident_id].add(source_id)
        query = (
            sa.select(
                CITATIONS.c.incident_id,
                CLAIMS.c.citation_id,
                sa.type_coerce(CLAIMS.c.category, sa.String),
                CLAIMS.c.low,
                CLAIMS.c.high,
                CLAIMS.c.group,
            )
            .join(CITATIONS, CITATIONS.c.id == CLAIMS.c.citation_id)
            .where(CITATIONS.c.incident_id.in_(chunk))
        )
        for incident_id, citation_id, category, low, high, group in connection.execute(query):
            claims[incident_id][citation_id].append((category, low, high, group))
        for incident_id in chunk:
            by_citation = claims.get(incident_id, {})
            values[incident_id] = _as_columns(incident_figures(by_citation.values())) | {
                "source_count": len(sources.get(incident_id, ()))
            }
    return values


def stored(connection: sa.Connection, incident_ids: Sequence[int]) -> dict[int, dict[str, int | None]]:
    """The range columns and source_count of these incidents as their rows hold them."""
    found: dict[int, dict[str, int | None]] = {}
    for start in range(0, len(incident_ids), IN_CHUNK):
        chunk = list(incident_ids[start : start + IN_CHUNK])
        query = sa.select(INCIDENTS.c.id, *(INCIDENTS.c[name] for name in COLUMNS)).where(
            INCIDENTS.c.id.in_(chunk)
        )
        for row in connection.execute(query):
            found[row[0]] = dict(zip(COLUMNS, row[1:], strict=True))
    return found


def refresh(connection: sa.Connection, incident_ids: Iterable[int]) -> int:
    """Rewrite the columns of these incidents that differ from their claims; how many rows changed."""
    ids = sorted(set(incident_ids))
    fresh = computed(connection, ids)
    now = stored(connection, ids)
    changed = {i: values for i, values in fresh.items() if i in now and now[i] != values}
    write_columns(connection, COLUMNS, changed)
    return len(changed)


def check(connection: sa.Connection, incident_ids: Sequence[int]) -> list[int]:
    """The ids among these whose columns are not what their claims give."""
    fresh = computed(connection, incident_ids)
    now = stored(connection, incident_ids)
    return [i for i in incident_ids if i in now and now[i] != fresh[i]]

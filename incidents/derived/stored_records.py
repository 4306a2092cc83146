"""The stored public records (incident_records): written for the incidents a change touched, checked, rebuilt.

derived.refresh rewrites the records of the incidents a service changed, from what the database then holds,
with the code that builds them for the API (exports.stored.build). The bulk writer inserts the records it
built from the values it inserts, with the same serializer. `check` compares stored records with fresh
builds; `refresh_all` rewrites every one (`flask --app incidents records --rebuild`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from incidents.exports.reader import BATCH_SIZE, IncidentRows, as_public, type_order
from incidents.exports.serialize import canonical_json, incident_record
from incidents.exports.stored import LAYOUT, RECORDS, build
from incidents.models import Incident

INCIDENTS = cast(sa.Table, Incident.__table__)
_IN_CHUNK = 500


def store(connection: sa.Connection, records: dict[int, bytes]) -> None:
    """Write these records (incident id → canonical bytes), replacing what was stored for them."""
    if not records:
        return
    rows = [{"incident_id": i, "layout": LAYOUT, "content": content} for i, content in records.items()]
    dialect = connection.dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert(RECORDS) if dialect == "postgresql" else sqlite.insert(RECORDS)
        statement = insert.on_conflict_do_update(
            index_elements=[RECORDS.c.incident_id],
            set_={"layout": insert.excluded.layout, "content": insert.excluded.content},
        )
        connection.execute(statement, rows)
        return
    connection.execute(sa.delete(RECORDS).where(RECORDS.c.incident_id.in_(list(records))))
    connection.execute(sa.insert(RECORDS), rows)


def refresh(connection: sa.Connection, incident_ids: Iterable[int]) -> int:
    """Rebuild and store the records of these incidents (ids of deleted ones are passed over); how many."""
    ids = sorted(set(incident_ids))
    done = 0
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        if connection.dialect.name == "postgresql":
            # Wait for any other transaction changing these incidents, then read what it committed.
            connection.execute(
                sa.select(INCIDENTS.c.id)
                .where(INCIDENTS.c.id.in_(chunk))
                .order_by(INCIDENTS.c.id)
                .with_for_update()
            )
        built = build(chunk, connection)
        store(connection, built)
        done += len(built)
    return done


def _ids_after(connection: sa.Connection, last: int) -> list[int]:
    """The next batch of incident ids after last, in order."""
    query = sa.select(INCIDENTS.c.id).where(INCIDENTS.c.id > last).order_by(INCIDENTS.c.id).limit(BATCH_SIZE)
    return list(connection.scalars(query))


def refresh_all(
    connection: Callable[[], sa.Connection],
    commit: Callable[[], None],
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rebuild every stored record (after an upgrade, or SQL written by hand); how many were written.

    Batch by batch through refresh (rows locked on PostgreSQL), each batch committed: saves made meanwhile
    wait for, or are waited for by, the batch that holds their incident, so none is overwritten by an older
    build. connection gives the connection to use after each commit.
    """
    done = last = 0
    while ids := _ids_after(connection(), last):
        refresh(connection(), ids)
        commit()
        done += len(ids)
        last = ids[-1]
        if progress is not None:
            progress(done)
    return done


def check(connection: sa.Connection, limit: int | None = None) -> list[int]:
    """The ids of incidents whose stored record is missing, of another layout, or not what a fresh build
    gives (at most limit of them); stored records of incidents that no longer exist count too."""
    wrong: list[int] = []
    last = 0
    while ids := _ids_after(connection, last):
        last = ids[-1]
        stored = dict(
            connection.execute(
                sa.select(RECORDS.c.incident_id, RECORDS.c.content).where(
                    RECORDS.c.incident_id.between(ids[0], ids[-1]), RECORDS.c.layout == LAYOUT
                )
            ).all()
        )
        fresh = build(ids, connection)
        wrong.extend(i for i in ids if stored.get(i) is None or bytes(stored[i]) != fresh[i])
        if limit is not None and len(wrong) >= limit:
            return wrong[:limit]
    orphans = sa.select(RECORDS.c.incident_id).where(
        ~sa.exists().where(INCIDENTS.c.id == RECORDS.c.incident_id)
    )
    wrong.extend(connection.scalars(orphans))
    return wrong[:limit] if limit is not None else wrong


def from_values(
    columns: dict[str, Any],
    types: list[tuple[str, str]],
    citations: list[tuple[str, str, dict[str, Any], list[tuple[str, int, int, str]]]],
    estimates: dict[str, int],
) -> bytes:
    """The stored record of an incident from the values the bulk writer inserts, not read back: the
    incident's columns as the database gives them back (enums by value; its public location included), its
    types as (slug, label), its citations as (locator, quote, source record, claims) and its best estimates
    by category. The same serializer as `build`; tests compare the two after every import."""
    incident = IncidentRows(as_public(columns))
    incident.types = sorted(types, key=type_order)
    incident.citations = citations
    incident.estimates = estimates
    return canonical_json(incident_record(incident, staff=False))

"""Flagging possible duplicates, on every save (services.incidents) and every import (services.imports)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import cast

import sqlalchemy as sa

from incidents.domain.duplicates import Match, find_duplicates
from incidents.extensions import db
from incidents.models import DuplicateFlag, Incident
from incidents.vocabulary import PublicationStatus


def flag_duplicates(incident: Incident) -> list[DuplicateFlag]:
    """Flag this incident's possible duplicates for an editor (pairs flagged before are left as they are).

    A retracted incident is flagged with nothing: it is out of the record, as the importer has it.
    """
    if incident.status == PublicationStatus.RETRACTED:
        return []
    flags = []
    for other, match in find_duplicates(incident):
        later, earlier = max(incident.id, other.id), min(incident.id, other.id)
        exists = db.session.scalar(
            sa.select(DuplicateFlag.id).where(
                DuplicateFlag.incident_id == later, DuplicateFlag.candidate_id == earlier
            )
        )
        if exists is not None:
            continue
        flag = DuplicateFlag(
            incident_id=later,
            candidate_id=earlier,
            distance_km=match.distance_km,
            days_apart=match.days_apart,
        )
        db.session.add(flag)
        flags.append(flag)
    db.session.flush()
    return flags


def insert_flags(connection: sa.Connection, pairs: Iterable[tuple[int, int, Match]]) -> int:
    """Insert open flags for (incident id, other id, match) pairs; returns how many.

    For the pairs batch_matches finds after an import: each has a new incident, which no flag names yet.
    """
    rows = {}
    for a, b, match in pairs:
        later, earlier = max(a, b), min(a, b)
        rows[(later, earlier)] = {
            "incident_id": later,
            "candidate_id": earlier,
            "distance_km": match.distance_km,
            "days_apart": match.days_apart,
        }
    if rows:
        now = dt.datetime.now(dt.UTC)
        table = cast(sa.Table, DuplicateFlag.__table__)
        connection.execute(
            sa.insert(table), [row | {"status": "open", "created_at": now} for row in rows.values()]
        )
    return len(rows)

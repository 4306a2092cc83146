"""Fill a database with N generated incidents, with citations, claims, estimates and types, fast.

    python -m bench.generate sqlite:////tmp/bench.sqlite3 1000000 [--seed 1]

Reusable: `generate(database_url, count, seed)`. Rows go in by Core bulk inserts in chunks, with explicit
ids and the derived columns (ranges, source_count) computed here exactly as derived.ranges computes them,
so every reader (exports, map, API) sees consistent records; each incident's stored record
(derived.stored_records) is built from the rows written, by the app's own code. The schema is created when
missing; the incident types are seeded. The same seed and count give the same rows (apart from created_at).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from typing import Any

import sqlalchemy as sa

from incidents.config import normalise_database_url
from incidents.derived import public_locations, stored_records
from incidents.domain.sensitivity import DEFAULT_GRID
from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    Incident,
    IncidentType,
    Source,
    incident_type_links,
)
from incidents.public_ids import new_public_id
from incidents.vocabulary import (
    SEED_INCIDENT_TYPES,
    CasualtyCategory,
    DatePrecision,
    LocationPrecision,
    ReliabilityGrade,
    SourceKind,
    VerificationGrade,
)

CHUNK = 20_000

# (place, admin2, admin1, latitude, longitude)
PLACES = [
    ("Juliaca", "San Román", "Puno", -15.4997, -70.1333),
    ("Puno", "Puno", "Puno", -15.8402, -70.0219),
    ("Ayacucho", "Huamanga", "Ayacucho", -13.1588, -74.2232),
    ("Andahuaylas", "Andahuaylas", "Apurímac", -13.6556, -73.3872),
    ("Abancay", "Abancay", "Apurímac", -13.6339, -72.8814),
    ("Cusco", "Cusco", "Cusco", -13.5319, -71.9675),
    ("Lima", "Lima", "Lima", -12.0464, -77.0428),
    ("Arequipa", "Arequipa", "Arequipa", -16.409, -71.5375),
    ("Chala", "Caravelí", "Arequipa", -15.8556, -74.2472),
    ("Ica", "Ica", "Ica", -14.0678, -75.7286),
    ("Huancayo", "Huancayo", "Junín", -12.0651, -75.2049),
    ("Tacna", "Tacna", "Tacna", -18.0146, -70.2536),
]


def generate(database_url: str, count: int, seed: int = 1) -> int:
    """Add count incidents (and their sources) to the database at database_url; returns the first new id."""
    engine = sa.create_engine(normalise_database_url(database_url))
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _fast_sqlite)
    db.metadata.create_all(engine)
    rng = random.Random(seed)
    with engine.begin() as connection:
        type_ids = _seed_types(connection)
        first_incident = _next_id(connection, Incident)
        source_ids = _insert_sources(connection, rng, max(100, count // 10))
        citation_id = _next_id(connection, Citation)
        claim_id = _next_id(connection, CasualtyClaim)
    id_rng = random.Random(f"public ids {seed} from {first_incident}")
    for start in range(0, count, CHUNK):
        rows = _Rows()
        for offset in range(start, min(start + CHUNK, count)):
            citation_id, claim_id = _incident(
                rows, rng, first_incident + offset, type_ids, source_ids, citation_id, claim_id
            )
            # From a generator of their own, so that the rest of the data is what it was before public ids.
            rows.incidents[-1]["public_id"] = new_public_id(id_rng)
        with engine.begin() as connection:
            rows.insert(connection)
            # Each incident's stored record, as the app keeps it (derived.stored_records): read back and
            # built by the app's own code, so the JSON export streams what a save would have stored.
            stored_records.refresh(connection, (row["id"] for row in rows.incidents))
    engine.dispose()
    return first_incident


class _Rows:
    def __init__(self) -> None:
        self.incidents: list[dict[str, Any]] = []
        self.types: list[dict[str, Any]] = []
        self.citations: list[dict[str, Any]] = []
        self.claims: list[dict[str, Any]] = []
        self.estimates: list[dict[str, Any]] = []

    def insert(self, connection: sa.Connection) -> None:
        for table, rows in (
            (Incident.__table__, self.incidents),
            (incident_type_links, self.types),
            (Citation.__table__, self.citations),
            (CasualtyClaim.__table__, self.claims),
            (CasualtyEstimate.__table__, self.estimates),
        ):
            if rows:
                connection.execute(sa.insert(table), rows)  # type: ignore[arg-type]


def _fast_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


def _next_id(connection: sa.Connection, model: Any) -> int:
    return int(connection.scalar(sa.select(sa.func.coalesce(sa.func.max(model.id), 0))) or 0) + 1


def _seed_types(connection: sa.Connection) -> list[int]:
    existing = set(connection.scalars(sa.select(IncidentType.slug)))
    missing = [{"slug": s, "label": label} for s, label in SEED_INCIDENT_TYPES if s not in existing]
    if missing:
        connection.execute(sa.insert(IncidentType), missing)
    return list(connection.scalars(sa.select(IncidentType.id).order_by(IncidentType.id)))


def _insert_sources(connection: sa.Connection, rng: random.Random, count: int) -> list[int]:
    first = _next_id(connection, Source)
    kinds = list(SourceKind)
    grades = list(ReliabilityGrade)
    rows = []
    for number in range(count):
        published = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000))
        rows.append(
            {
                "id": first + number,
                "title": f"Generated report {first + number} on protests and their policing",
                "kind": rng.choice(kinds).value,
                "publisher": rng.choice(["IACHR", "Amnesty International", "La República", "Reuters", ""]),
                "author": "",
                "publication_date": published,
                "url": f"https://example.org/reports/{first + number}",
                "accessed_date": published + dt.timedelta(days=rng.randrange(30)),
                "archive_url": "",
                "language": rng.choice(["es", "en"]),
                "reliability": rng.choice(grades).value,
                "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            }
        )
    for start in range(0, len(rows), CHUNK):
        connection.execute(sa.insert(Source), rows[start : start + CHUNK])
    return [row["id"] for row in rows]


_STATUSES = ["published"] * 90 + ["draft"] * 8 + ["retracted"] * 2
_CREATED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_NO_RULES = public_locations.Rules()


def _incident(
    rows: _Rows,
    rng: random.Random,
    incident_id: int,
    type_ids: list[int],
    source_ids: list[int],
    citation_id: int,
    claim_id: int,
) -> tuple[int, int]:
    place, admin2, admin1, latitude, longitude = rng.choice(PLACES)
    precision = rng.choice(list(DatePrecision))
    start = dt.date(2000, 1, 1) + dt.timedelta(days=rng.randrange(9000))
    end = start + dt.timedelta(days=rng.randrange(1, 6)) if precision != DatePrecision.DAY else None
    has_point = rng.random() < 0.95
    sensitive = rng.random() < 0.02
    lows: dict[str, int] = {}
    highs: dict[str, int] = {}
    cited = rng.sample(source_ids, rng.randint(1, 3))
    for position, source_id in enumerate(cited):
        rows.citations.append(
            {
                "id": citation_id,
                "incident_id": incident_id,
                "source_id": source_id,
                "position": position,
                "locator": f"p. {rng.randint(1, 300)}",
                "quote": "" if rng.random() < 0.5 else "Security forces fired on the crowd near the square.",
            }
        )
        for category in rng.sample(list(CasualtyCategory), rng.randint(0, 2)):
            low = rng.randint(0, 40)
            high = low + rng.choice([0, 0, 1, 5])
            rows.claims.append(
                {
                    "id": claim_id,
                    "citation_id": citation_id,
                    "category": category.value,
                    "low": low,
                    "high": high,
                }
            )
            lows[category.value] = min(lows.get(category.value, low), low)
            highs[category.value] = max(highs.get(category.value, high), high)
            claim_id += 1
        citation_id += 1
    for category in lows:
        if rng.random() < 0.3:
            rows.estimates.append({"incident_id": incident_id, "category": category, "best": highs[category]})
    for type_id in rng.sample(type_ids, rng.randint(1, 2)):
        rows.types.append({"incident_id": incident_id, "incident_type_id": type_id})
    incident: dict[str, Any] = {
        "id": incident_id,
        "title": f"Incident {incident_id}: protesters confronted by police in {place}",
        "narrative": "Police and army units dispersed a protest; sources disagree on the number of victims.",
        "start_date": start,
        "end_date": end,
        "date_precision": precision.value,
        "place_name": place,
        "admin1": admin1,
        "admin2": admin2,
        "country": "PE",
        "latitude": round(latitude + rng.uniform(-0.05, 0.05), 5) if has_point else None,
        "longitude": round(longitude + rng.uniform(-0.05, 0.05), 5) if has_point else None,
        "location_precision": rng.choice(list(LocationPrecision)).value,
        "perpetrators": rng.choice(["National Police of Peru", "Peruvian Army", "unknown"]),
        "victims": rng.choice(["protesters", "students", "journalists", "residents"]),
        "verification_grade": rng.choice(list(VerificationGrade)).value,
        "status": rng.choice(_STATUSES),
        "confidential_notes": "" if rng.random() < 0.8 else "Witness contact kept offline.",
        "location_sensitive": sensitive,
        "location_sensitive_reason": "A survivor lives here." if sensitive else "",
        "source_count": len(cited),
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "version": 1,
    }
    for category in CasualtyCategory:
        incident[f"{category.value}_low"] = lows.get(category.value)
        incident[f"{category.value}_high"] = highs.get(category.value)
    # No location rules here: the public location follows the incident's own mark, as derived would make it.
    incident.update(public_locations.computed_one(incident, (), (), _NO_RULES, DEFAULT_GRID))
    rows.incidents.append(incident)
    return citation_id, claim_id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database_url", help="e.g. sqlite:////tmp/bench.sqlite3 or postgresql://…")
    parser.add_argument("count", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    first = generate(args.database_url, args.count, args.seed)
    elapsed = time.perf_counter() - began
    print(
        f"{args.count} incidents (ids from {first}) in {elapsed:.1f} s "
        f"({args.count / elapsed:,.0f} a second) into {args.database_url}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

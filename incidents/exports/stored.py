"""Each incident's public record, stored as the bytes the JSON export writes: building them, and reading them.

Assembling a record reads six tables (the incident, its types, citations, sources, claims and estimates);
that caps an export near 10,000 incidents a second. So the canonical public record of each incident (see
serialize.canonical_json: what the export's checksum covers) is kept in incident_records, and exports are
made from those bytes. A stored record is derived data: derived.stored_records writes it, on every change a
service makes (derived.refresh) and for every incident the bulk writer inserts, with `build` here or the
same serializer on the values inserted; tests compare every stored record with a fresh build after every
test (tests/conftest.py).

`layout` names the record format's version and the country names' data: after an upgrade that changes
either, stored rows are ignored (the export builds those records itself, slower but right, and logs a
warning) until `flask --app incidents records --rebuild` writes them anew. `records --check` compares them
all.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import orjson
import sqlalchemy as sa

from incidents.exports.reader import BATCH_SIZE, IncidentReader, fetch_raw
from incidents.exports.serialize import (
    RECORD_VERSION,
    canonical_json,
    has_tiny_coordinates,
    incident_record,
    iso_timestamp,
    location_sensitivity,
)
from incidents.extensions import db
from incidents.models import Citation, Incident, Source, StoredRecord, User

log = logging.getLogger(__name__)

RECORDS = cast(sa.Table, StoredRecord.__table__)
INCIDENTS = cast(sa.Table, Incident.__table__)
CITATIONS = cast(sa.Table, Citation.__table__)
SOURCES = cast(sa.Table, Source.__table__)
_IN_CHUNK = 500


# What a stored row was written by: the record format's version (exports.serialize.RECORD_VERSION) and the
# version of pycountry, whose data gives the country names a record carries. A row of another layout is not
# used (the export builds that record itself, slower but right) until `records --rebuild` writes it anew.
LAYOUT = f"{RECORD_VERSION};pycountry {importlib.metadata.version('pycountry')}"


def build(
    incident_ids: Iterable[int], connection: sa.Connection | None = None, *, staff: bool = False
) -> dict[int, bytes]:
    """The canonical public records of these incidents (staff: their staff records), read from the database
    now."""
    built: dict[int, bytes] = {}
    ids = sorted(set(incident_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        selection = sa.select(Incident).where(Incident.id.in_(ids[start : start + _IN_CHUNK]))
        reader = IncidentReader(selection, staff=staff, connection=connection)
        for batch in reader.batches():
            for incident in batch:
                built[incident.columns["id"]] = canonical_json(incident_record(incident, staff=staff))
    return built


# -- reading for an export --------------------------------------------------------------------------------


class StoredReader:
    """The canonical records of a selection (a SELECT of Incident with its WHERE clauses), in id order.

    Public: the stored bytes as they are. Staff: the stored record with the staff fields added, made
    canonical again; an incident whose public record differs from the staff one in more than those fields (a
    coarsened location, a confidential source withheld) has its staff record built from its rows. An incident
    without a usable stored record is built from its rows.
    """

    def __init__(
        self,
        selection: sa.Select[Any],
        *,
        staff: bool,
        batch_size: int | None = None,
        connection: sa.Connection | None = None,
    ) -> None:
        self.selection = selection
        self.staff = staff
        self.batch_size = batch_size or BATCH_SIZE
        # The session's connection unless another is given (a backup reads its copy, or its snapshot).
        self._given_connection = connection
        self._users: dict[int, str] = {}
        self._begun: Iterator[list[tuple[str, bytes]]] | None = None

    @property
    def _connection(self) -> sa.Connection:
        return self._given_connection or db.session.connection()

    def count(self) -> int:
        query = self.selection.with_only_columns(sa.func.count(Incident.id)).order_by(None)
        return int(self._connection.scalar(query) or 0)

    def begin(self) -> None:
        """Read the first batch now, not when batches() is first asked for it: a web export reads it within
        the request's query budget, before its download starts (web.exports)."""
        batches = self._read_batches()
        first = next(batches, None)
        self._begun = itertools.chain([first] if first is not None else [], batches)

    def batches(self) -> Iterator[list[tuple[str, bytes]]]:
        """The records, a batch at a time (after begin(): the batch it read, then the others)."""
        begun, self._begun = self._begun, None
        return begun if begun is not None else self._read_batches()

    def _read_batches(self) -> Iterator[list[tuple[str, bytes]]]:
        joined = sa.outerjoin(
            INCIDENTS,
            RECORDS,
            sa.and_(RECORDS.c.incident_id == INCIDENTS.c.id, RECORDS.c.layout == LAYOUT),
        )
        columns: list[Any] = [INCIDENTS.c.id, RECORDS.c.content, INCIDENTS.c.public_id]
        if self.staff:
            columns += [sa.type_coerce(INCIDENTS.c.status, sa.String), *_STAFF_COLUMNS]
        last_id = 0
        warned = False
        while True:
            # The session's connection asked for at each batch: after begin(), a web export reads its first
            # batch in the view, and the rest as it streams, when the view's session has been closed.
            connection = self._connection
            query = (
                self.selection.with_only_columns(*columns, maintain_column_froms=False)
                .select_from(joined)
                .where(INCIDENTS.c.id > last_id)
                .order_by(None)
                .order_by(INCIDENTS.c.id)
                .limit(self.batch_size)
                .with_hint(Incident, "NOT INDEXED", dialect_name="sqlite")
            )
            rows = fetch_raw(connection, query)
            if not rows:
                return
            missing = [row[0] for row in rows if row[1] is None]
            built = build(missing, connection) if missing else {}
            if missing and not warned:
                warned = True
                log.warning(
                    "Some incidents have no stored record of this code's layout (the first: %s); the export "
                    "builds them, more slowly. Run `flask --app incidents records --rebuild`.",
                    missing[0],
                )
            if self.staff:
                withheld = _withholding(connection, rows)
                if withheld:
                    built |= build(withheld, connection, staff=True)
                yield self._staff(connection, rows, built, withheld)
            else:
                yield [(row[2], row[1] if row[1] is not None else built[row[0]]) for row in rows]
            last_id = rows[-1][0]
            if len(rows) < self.batch_size:
                return

    def _staff(
        self, connection: sa.Connection, rows: Sequence[Any], built: dict[int, bytes], withheld: set[int]
    ) -> list[tuple[str, bytes]]:
        wanted = {user_id for row in rows for user_id in (row[7], row[8]) if user_id is not None} - set(
            self._users
        )
        if wanted:
            query = sa.select(User.id, User.email).where(User.id.in_(wanted))
            self._users.update(connection.execute(query).all())
        users = self._users
        # Timestamps repeat (an import gives all its incidents one): each distinct one converted once a batch.
        times: dict[Any, str | None] = {}
        out = []
        for (
            incident_id,
            content,
            public_id,
            status,
            notes,
            created_at,
            updated_at,
            created_by,
            updated_by,
            version,
            sensitive,
            reason,
            public_place_name,
            public_latitude,
            public_longitude,
            public_precision,
            _coarsened,
        ) in rows:
            if incident_id in withheld:
                out.append((public_id, built[incident_id]))
                continue
            created = times.get(created_at)
            if created is None:
                created = times[created_at] = iso_timestamp(created_at)
            updated = times.get(updated_at)
            if updated is None:
                updated = times[updated_at] = iso_timestamp(updated_at)
            staff = {
                "confidential_notes": notes,
                "created_at": created,
                "created_by": users.get(created_by) if created_by is not None else None,
                "status": status,
                "updated_at": updated,
                "updated_by": users.get(updated_by) if updated_by is not None else None,
                "version": version,
                "location_sensitivity": location_sensitivity(
                    sensitive, reason, public_place_name, public_latitude, public_longitude, public_precision
                ),
            }
            out.append(
                (
                    public_id,
                    with_staff_fields(content if content is not None else built[incident_id], staff),
                )
            )
        return out


_dumps = orjson.dumps


def with_staff_fields(public: bytes, staff: dict[str, Any]) -> bytes:
    """The staff record's canonical bytes: the public record's, with the staff fields put in key order.

    The same bytes as canonical_json(public record + staff fields), without parsing and writing the whole
    record again (which would cost a staff export most of its speed). Sorted, the staff keys fall before
    the public keys "date", "title", "verification_grade" and "victims"; each is found from the end: a JSON
    string holds no unescaped quote, and no object after these top-level keys has a key of the same name (a
    source has a "title", but citations come before the top-level title). Should the record not have that
    shape, the slow road is taken. tests/test_stored_records.py compares both on hostile text.
    """
    victims = public.rfind(b',"victims":')
    grade = public.rfind(b',"verification_grade":', 0, victims) if victims > 0 else -1
    title = public.rfind(b',"title":', 0, grade) if grade > 0 else -1
    narrative = public.rfind(b',"narrative":', 0, title) if title > 0 else -1
    date = public.rfind(b',"date":{', 0, narrative) if narrative > 0 else -1
    sensitivity = staff["location_sensitivity"]
    # Not the shape expected, or coordinates orjson writes otherwise than the canonical form: the slow road.
    if date < 0 or has_tiny_coordinates(sensitivity["public"]):
        record = orjson.loads(public)
        record.update(staff)
        return canonical_json(record)
        record = orjson.loads(public)
        record.update(staff)
        return canonical_json(record)
    view = memoryview(public)  # slices of a view are not copies: the record is copied once, by the join
    return b"".join(
        (
            view[:date],
            b',"confidential_notes":',
            _dumps(staff["confidential_notes"]),
            b',"created_at":',
            _dumps(staff["created_at"]),
            b',"created_by":',
            _dumps(staff["created_by"]),
            view[date:narrative],
            b',"location_sensitivity":',
            _dumps(sensitivity, option=orjson.OPT_SORT_KEYS),
            view[narrative:title],
            b',"status":',
            _dumps(staff["status"]),
            view[title:grade],
            b',"updated_at":',
            _dumps(staff["updated_at"]),
            b',"updated_by":',
            _dumps(staff["updated_by"]),
            view[grade:victims],
            b',"version":',
            _dumps(staff["version"]),
            view[victims:],
        )
    )


_STAFF_COLUMNS = [
    INCIDENTS.c.confidential_notes,
    INCIDENTS.c.created_at,
    INCIDENTS.c.updated_at,
    INCIDENTS.c.created_by_id,
    INCIDENTS.c.updated_by_id,
    INCIDENTS.c.version,
    INCIDENTS.c.location_sensitive,
    INCIDENTS.c.location_sensitive_reason,
    INCIDENTS.c.public_place_name,
    INCIDENTS.c.public_latitude,
    INCIDENTS.c.public_longitude,
    sa.type_coerce(INCIDENTS.c.public_location_precision, sa.String),
    INCIDENTS.c.location_coarsened,
]


def _withholding(connection: sa.Connection, rows: Sequence[Any]) -> set[int]:
    """The incidents among rows whose public record withholds something from staff: a coarsened location
    (the last column) or a confidential source cited."""
    found = {row[0] for row in rows if row[-1]}
    ids = [row[0] for row in rows]
    for start in range(0, len(ids), _IN_CHUNK):
        query = (
            sa.select(CITATIONS.c.incident_id)
            .join(SOURCES, SOURCES.c.id == CITATIONS.c.source_id)
            .where(SOURCES.c.confidential, CITATIONS.c.incident_id.in_(ids[start : start + _IN_CHUNK]))
            .distinct()
        )
        found.update(connection.scalars(query))
    return found

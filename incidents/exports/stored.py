"""Each incident's public record, stored as the bytes the JSON export writes, and kept true on every save.

Assembling a record reads six tables (the incident, its types, citations, sources, claims and estimates);
that caps an export near 10,000 incidents a second. So the canonical public record of each incident (see
serialize.canonical_json: what the export's checksum covers) is kept in incident_records, and exports are
made from those bytes. A stored record is derived data and must never be stale:

- Every ORM flush that touches an incident, citation, claim or estimate, or changes a column of a source or
  an incident type, notes which incidents it affects (after_flush); before the transaction commits, their
  records are rebuilt from what the database then holds (before_commit), by the very code that builds them
  for the API. On PostgreSQL the incidents' rows are locked first: two transactions saving the same
  incident cannot leave its record older than what they committed.
- Bulk imports write incidents around the ORM; they insert the records they built from the same values,
  and tests compare every stored record with a fresh build after every test (tests/conftest.py).
- `layout` is a fingerprint of the code and data that decide a record's bytes: after an upgrade that
  changes it, stored rows are ignored (the export builds those records itself, slower but right, and logs
  a warning) until `flask --app incidents records --rebuild` writes them anew. `records --check` compares
  them all.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from incidents import vocabulary as _vocabulary_module
from incidents.exports import records as _records_module
from incidents.exports import serialize as _serialize_module
from incidents.exports.records import BATCH_SIZE, IncidentReader, fetch_raw
from incidents.exports.serialize import canonical_json, incident_record, iso_timestamp
from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    Incident,
    IncidentRecord,
    IncidentType,
    Source,
    User,
    incident_type_links,
)

log = logging.getLogger(__name__)

RECORDS = cast(sa.Table, IncidentRecord.__table__)
INCIDENTS = cast(sa.Table, Incident.__table__)
_IN_CHUNK = 500


def _layout() -> str:
    """A fingerprint of what decides a record's bytes: the reader, the serializer and the vocabulary's
    source, and the versions of pycountry (country names) and orjson (the bytes written)."""
    digest = hashlib.sha256()
    for part in (_records_module, _serialize_module, _vocabulary_module):
        try:
            digest.update(inspect.getsource(part).encode("utf-8"))
        except (OSError, TypeError):  # no source at hand: a fingerprint no stored row can match
            digest.update(os.urandom(16))
    for package in ("pycountry", "orjson"):
        digest.update(f"{package} {importlib.metadata.version(package)}".encode())
    return digest.hexdigest()[:32]


LAYOUT = _layout()


def build(incident_ids: Iterable[int], connection: sa.Connection | None = None) -> dict[int, bytes]:
    """The canonical public records of these incidents, read from the database now."""
    built: dict[int, bytes] = {}
    ids = sorted(set(incident_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        selection = sa.select(Incident).where(Incident.id.in_(ids[start : start + _IN_CHUNK]))
        reader = IncidentReader(selection, staff=False, connection=connection)
        for batch in reader.batches():
            for incident in batch:
                built[incident.columns["id"]] = canonical_json(incident_record(incident, staff=False))
    return built


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


# -- reading for an export --------------------------------------------------------------------------------


class StoredReader:
    """The canonical records of a selection (a SELECT of Incident with its WHERE clauses), in id order.

    Public: the stored bytes as they are. Staff: the stored record with the staff fields added, made
    canonical again. An incident without a usable stored record is built from its rows.
    """

    def __init__(self, selection: sa.Select[Any], *, staff: bool, batch_size: int | None = None) -> None:
        self.selection = selection
        self.staff = staff
        self.batch_size = batch_size or BATCH_SIZE
        self._users: dict[int, str] = {}

    def count(self) -> int:
        query = self.selection.with_only_columns(sa.func.count(Incident.id)).order_by(None)
        return int(db.session.scalar(query) or 0)

    def batches(self) -> Iterator[list[tuple[int, bytes]]]:
        connection = db.session.connection()
        joined = sa.outerjoin(
            INCIDENTS,
            RECORDS,
            sa.and_(RECORDS.c.incident_id == INCIDENTS.c.id, RECORDS.c.layout == LAYOUT),
        )
        columns: list[Any] = [INCIDENTS.c.id, RECORDS.c.content]
        if self.staff:
            columns += [sa.type_coerce(INCIDENTS.c.status, sa.String), *_STAFF_COLUMNS]
        last_id = 0
        warned = False
        while True:
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
                yield self._staff(connection, rows, built)
            else:
                yield [(row[0], row[1] if row[1] is not None else built[row[0]]) for row in rows]
            last_id = rows[-1][0]
            if len(rows) < self.batch_size:
                return

    def _staff(
        self, connection: sa.Connection, rows: Sequence[Any], built: dict[int, bytes]
    ) -> list[tuple[int, bytes]]:
        wanted = {user_id for row in rows for user_id in (row[6], row[7]) if user_id is not None} - set(
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
            status,
            notes,
            created_at,
            updated_at,
            created_by,
            updated_by,
            version,
        ) in rows:
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
            }
            out.append(
                (
                    incident_id,
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
    date = public.rfind(b',"date":{', 0, title) if title > 0 else -1
    if date < 0:  # not the shape expected
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
            view[date:title],
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
]


# -- keeping records true on every ORM save ----------------------------------------------------------------

_INFO_KEY = "incidents.stale_records"


@dataclass
class _Stale:
    incidents: set[int] = field(default_factory=set)
    citations: set[int] = field(default_factory=set)
    sources: set[int] = field(default_factory=set)
    types: set[int] = field(default_factory=set)

    def incident_ids(self, connection: sa.Connection) -> set[int]:
        ids = set(self.incidents)
        for column, key, wanted in (
            (Citation.incident_id, Citation.id, self.citations),
            (Citation.incident_id, Citation.source_id, self.sources),
            (incident_type_links.c.incident_id, incident_type_links.c.incident_type_id, self.types),
        ):
            values = sorted(wanted)
            for start in range(0, len(values), _IN_CHUNK):
                query = sa.select(column).where(key.in_(values[start : start + _IN_CHUNK])).distinct()
                ids.update(connection.scalars(query))
        ids.discard(None)
        return ids


def _values(obj: Any, name: str) -> Iterator[Any]:
    """The attribute's value now and, when this flush changed it, the one it had before."""
    yield getattr(obj, name)
    history = sa.inspect(obj).attrs[name].history
    yield from history.deleted or ()


def _columns_changed(obj: Any) -> bool:
    """Whether this flush changes one of the object's columns (not only a collection of its relations:
    adding a citation of a source makes the source "dirty" without changing it)."""
    state = sa.inspect(obj)
    return any(state.attrs[column.key].history.has_changes() for column in state.mapper.column_attrs)


def _after_flush(session: Session, _context: Any) -> None:
    stale: _Stale | None = None
    for obj in itertools.chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Incident):
            target, values = "incidents", [obj.id]
        elif isinstance(obj, Citation):
            target, values = "incidents", list(_values(obj, "incident_id"))
        elif isinstance(obj, CasualtyClaim):
            target, values = "citations", list(_values(obj, "citation_id"))
        elif isinstance(obj, CasualtyEstimate):
            target, values = "incidents", list(_values(obj, "incident_id"))
        elif isinstance(obj, Source | IncidentType):
            # New: nothing cites it yet but new citations (noted above). Deleted: its citations went first.
            if obj in session.new or obj in session.deleted or not _columns_changed(obj):
                continue
            target, values = ("sources" if isinstance(obj, Source) else "types"), [obj.id]
        else:
            continue
        if stale is None:
            stale = session.info.setdefault(_INFO_KEY, _Stale())
        getattr(stale, target).update(value for value in values if value is not None)


def _before_commit(session: Session) -> None:
    session.flush()  # what the commit would flush next: its changes must be in the records too
    stale: _Stale | None = session.info.get(_INFO_KEY)
    if stale is None:
        return
    connection = session.connection()
    refresh(connection, stale.incident_ids(connection))
    # Only once written: should the rebuild fail, a retried commit rebuilds again.
    session.info.pop(_INFO_KEY, None)


def _transaction_end(session: Session, transaction: SessionTransaction) -> None:
    # The outermost transaction ended (committed: already written; rolled back: nothing to write). A
    # savepoint rolled back keeps the list: changes flushed before it are still to be written.
    if transaction.parent is None:
        session.info.pop(_INFO_KEY, None)


def track(session_class: type[Session] = Session) -> None:
    """Keep stored records true on every ORM commit (idempotent)."""
    for name, listener in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_transaction_end", _transaction_end),
    ):
        if not sa.event.contains(session_class, name, listener):
            sa.event.listen(session_class, name, listener)

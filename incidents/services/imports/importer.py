"""Checking a file's records and writing the valid ones: the importer every format but our own export uses.

Each chunk of records is geocoded where asked, loaded through the schema (importing.validation), told apart
from what is stored already and from earlier rows of the file, and written by the bulk writer; possible
duplicates are found at the end, among the new incidents and against the stored ones.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import sqlalchemy as sa

from incidents.audit import COMMAND_LINE, Actor
from incidents.domain.duplicates import Footprint, Match, batch_matches
from incidents.extensions import db
from incidents.geocoding import Geocoder
from incidents.importing.formats.base import ImportRecord, RecordReader, column_for
from incidents.importing.geocoding import GeocodingStep
from incidents.importing.mapping import ColumnMapping
from incidents.importing.report import ImportReport, Problem, Severity
from incidents.importing.validation import RecordValidator
from incidents.models import Incident
from incidents.services.duplicate_flags import insert_flags
from incidents.services.imports.bulk_writer import BulkWriter
from incidents.services.imports.pending import Pending
from incidents.vocabulary import LocationMethod, PublicationStatus

CHUNK = 1000
_EXTERNAL_ID_LENGTH: int = cast(sa.String, Incident.__table__.c.external_id.type).length or 0

# Called with (done, total) in the reader's unit (bytes of a CSV, records of a JSON file).
Progress = Callable[[int, int], None]


@dataclass
class ImportOptions:
    format: str = "auto"  # auto, json, ucdp, acled, csv
    dry_run: bool = False
    publish: bool = False
    skip_invalid: bool = False  # import the valid rows and list the invalid ones, instead of nothing
    geocode: bool = True
    mapping: ColumnMapping = field(default_factory=ColumnMapping)
    # A generic CSV's name, for its incidents' external_source ("csv:<name>"): the one given (--dataset, or on
    # the page), else the mapping file's, else the file's name.
    dataset: str = ""
    file_name: str = "file"
    submit: bool = False  # the imported incidents in review rather than drafts (publish: published)
    actor: Actor = COMMAND_LINE  # who imports, through what: the audit trail's entry for the batch names them

    @property
    def status(self) -> PublicationStatus:
        """What the imported incidents are (a staff export's drafts and retractions stay what they are)."""
        if self.publish:
            return PublicationStatus.PUBLISHED
        return PublicationStatus.IN_REVIEW if self.submit else PublicationStatus.DRAFT


class Importer:
    """Checks a file's records chunk by chunk and writes the valid ones; any file but our own export."""

    def __init__(
        self,
        reader: RecordReader,
        options: ImportOptions,
        report: ImportReport,
        geocoder: Geocoder | None,
        types: dict[str, int],
    ) -> None:
        self.reader = reader
        self.options = options
        self.report = report
        self.types = types
        self.geocoding = self._geocoding_step(geocoder)
        self.validator = RecordValidator()
        self.writer = BulkWriter(
            db.session.connection(),
            dataset=reader.dataset,
            status=options.status,
            user_id=options.actor.user_id,
            type_ids=types,
            dry_run=options.dry_run,
        )
        self.first_row: dict[str, int] = {}  # external id → the row it was first seen in
        self.footprints: list[Footprint] = []
        self.created_ids: list[int] = []  # the incidents written, in order
        self.held_ids: list[int] = []  # of a publishing import: flagged, so left in review

    def _geocoding_step(self, geocoder: Geocoder | None) -> GeocodingStep:
        """Place names geocoded, and admin regions found from coordinates, unless --no-geocode."""
        return GeocodingStep(geocoder if self.options.geocode else None, as_recorded=False)

    def _pending(self, record: ImportRecord, loaded: dict[str, Any], method: str) -> Pending:
        """A valid record, to write."""
        return Pending(record.external_id, loaded, method, digest=record.digest)

    def _check_more(self, record: ImportRecord, loaded: dict[str, Any]) -> None:
        """Checks a format may add to the schema's, adding its problems to the record."""

    def _compared(self, record: ImportRecord) -> bool:
        """Whether the record is compared with others for possible duplicates."""
        return True

    def _holds_for_review(self) -> bool:
        """Whether a publishing import leaves its possible duplicates in review."""
        return True

    def run(self, progress: Progress | None) -> None:
        records = self.reader.records()
        while chunk := list(itertools.islice(records, CHUNK)):
            pending = self._check(chunk)
            # Past the first error (unless invalid rows are skipped) nothing more is written: the rest is
            # still checked, so that the report lists every problem, and the transaction is rolled back.
            writes = self.report.error_count == 0 or self.options.skip_invalid
            if writes or self.options.dry_run:
                ids = self.writer.write([item for _, item in pending])
                self.created_ids += ids
                self._remember(pending, ids)
            self.report.created += len(pending)
            if progress is not None:
                progress(*self.reader.progress)
        self.report.sources_created = self.writer.sources_created
        if self.report.error_count and not self.options.skip_invalid and not self.options.dry_run:
            return  # nothing is written; a dry run goes on, to list the possible duplicates of the valid rows
        # Possible duplicates are found while the last writes run (on PostgreSQL): among the new incidents,
        # kept in memory, and the stored ones, which the lookup connection reads.
        matches = batch_matches(self.writer.lookup, self.footprints)
        self.writer.land()
        self._hold_for_review(matches)
        self.writer.finish()
        self._flag_duplicates(matches)

    def _hold_for_review(self, matches: list[tuple[Footprint, Match]]) -> None:
        """A publishing import leaves the new incidents flagged as possible duplicates in review: nothing
        flagged is published before an editor has looked (services.workflow)."""
        if self.options.status != PublicationStatus.PUBLISHED or not self._holds_for_review():
            return
        flagged = {f.key for f, _ in matches if f.row} | {m.other.key for _, m in matches if m.other.row}
        held = sorted(key for key in flagged if key > 0)  # a dry run's rows have no ids (negative keys)
        self.report.held_for_review = len(held)
        if held and not self.options.dry_run:
            self.writer.hold_for_review(held)
            self.held_ids = held

    def _check(self, chunk: list[ImportRecord]) -> list[tuple[ImportRecord, Pending]]:
        """Geocode and validate the chunk's records, reporting their problems: the valid new ones to write."""
        report = self.report
        existing = self.writer.existing(r.external_id for r in chunk if r.external_id)
        pending = []
        for record in chunk:
            report.rows += 1
            self._check_id_length(record)
            if self._stored_already(record, existing):
                continue
            method = self.geocoding.apply(record)
            loaded = self._accepted(record, self.validator.load(record))
            if loaded is None:
                continue
            self._count(record, method)
            pending.append((record, self._pending(record, loaded, method)))
        return pending

    def _check_id_length(self, record: ImportRecord) -> None:
        if len(record.external_id) > _EXTERNAL_ID_LENGTH:
            record.problems.append(
                Problem(
                    record.row,
                    column_for("external_id", record.columns),
                    f"The id is {len(record.external_id)} characters long: at most {_EXTERNAL_ID_LENGTH}.",
                )
            )

    def _stored_already(self, record: ImportRecord, existing: dict[str, tuple[int, str | None]]) -> bool:
        """True for a record whose id is stored already (counted, and warned of when its content changed);
        a repeat of an earlier row of this file is an error of the record."""
        report = self.report
        external_id = record.external_id
        # A repeat of a row of this file first: the import's own connection (SQLite's lookup) sees the
        # rows of earlier batches as stored.
        if external_id and external_id in self.first_row:
            first = f"{report.row_label} {self.first_row[external_id]}"
            if record.content_id:
                # A file without an id column: a row's content is its id.
                message = (
                    f"The same as {first}, cell for cell. Without an id column a row is known by its "
                    "content: remove the copy, or give the file an id column if they are two incidents."
                )
            else:
                message = f"Repeats the id {external_id} of {first}."
            record.problems.append(Problem(record.row, "", message))
        elif external_id in existing:
            report.existing += 1
            stored_id, digest = existing[external_id]
            if digest is not None and record.digest is not None and digest != record.digest:
                report.existing_changed += 1
                report.add(
                    Problem(
                        record.row,
                        column_for("external_id", record.columns),
                        f"The id {external_id} was imported before (incident {stored_id}) from a "
                        f"different version of this {report.row_label}: not updated. An import adds "
                        "incidents; it does not change what is stored: edit the incident.",
                        Severity.WARNING,
                    )
                )
            return True
        elif external_id:
            self.first_row[external_id] = record.row
        return False

    def _accepted(self, record: ImportRecord, loaded: dict[str, Any] | None) -> dict[str, Any] | None:
        """The record's validated input (loaded), or None for an invalid record (counted); its problems go
        into the report either way."""
        report = self.report
        if loaded is not None:
            self._check_more(record, loaded)
        for problem in record.problems:
            report.add(problem)
        if loaded is None or any(p.severity == Severity.ERROR for p in record.problems):
            report.invalid += 1
            if self.options.skip_invalid:
                report.skipped += 1
            return None
        return loaded

    def _count(self, record: ImportRecord, method: str) -> None:
        """Count what the report tells of a valid record: geocoded, or its admin regions found."""
        report = self.report
        if method == LocationMethod.GEOCODED:
            report.geocoded += 1
        elif method == LocationMethod.REVERSE_GEOCODED:
            report.reverse_geocoded += 1

    def _remember(self, pending: list[tuple[ImportRecord, Pending]], ids: list[int]) -> None:
        """Keep what duplicate finding needs of each new incident: a footprint, and its row for the report."""
        keys = ids if ids else [-record.row for record, _ in pending]
        for key, (record, item) in zip(keys, pending, strict=True):
            if not self._compared(record):
                continue
            loaded = item.loaded
            self.footprints.append(
                Footprint.make(
                    key,
                    loaded["start_date"],
                    loaded["end_date"],
                    loaded["latitude"],
                    loaded["longitude"],
                    loaded["place_name"],
                    loaded["country"],
                    (self.types[slug] for slug in loaded["types"]),
                    record.row,
                )
            )

    def _flag_duplicates(self, matches: list[tuple[Footprint, Match]]) -> None:
        report = self.report
        label = report.row_label
        for footprint, match in matches:
            if match.other.row:  # a row of this file
                other = f"{label} {match.other.row}"
                if not self.options.dry_run:
                    other += f" (incident {match.other.key})"
            else:
                other = f"incident {match.other.key}"
            apart = f"{match.days_apart} day(s)"
            distance = (
                f"{match.distance_km:.1f} km" if match.distance_km is not None else "the same place name"
            )
            report.add(
                Problem(
                    footprint.row,
                    "",
                    f"May be the same event as {other}: same type, {distance}, {apart} apart; "
                    + ("would be flagged" if self.options.dry_run else "flagged")
                    + " for an editor to confirm or merge.",
                    Severity.WARNING,
                )
            )
        if self.options.dry_run:
            report.duplicates_flagged = len(matches)
        else:
            report.duplicates_flagged = insert_flags(
                self.writer.connection, ((f.key, m.other.key, m) for f, m in matches)
            )

"""Restoring our own JSON export: the records come back as they were recorded, with their ids where free.

Its own road beside the importer of other formats (which it extends): nothing is geocoded and precisions
stay as stated (a round trip gives back the same records); each incident keeps its id and each source the
file's id for it when no stored row has them; a staff export's drafts stay drafts and its retractions stay
retracted (services.imports.pending.status_for), and retracted incidents are not compared for duplicates.
With --publish, what the file has as published is published again, possible duplicates included (they were
reviewed where the file comes from): they are flagged, not held in review as another file's would be.
"""

from __future__ import annotations

from typing import Any

from incidents.geocoding import Geocoder
from incidents.importing.formats.base import ImportRecord
from incidents.importing.geocoding import GeocodingStep
from incidents.importing.report import Problem
from incidents.services.imports.importer import Importer
from incidents.services.imports.pending import Pending, SourceKey, source_key
from incidents.vocabulary import PublicationStatus


class ExportRestorer(Importer):
    """Imports an incidents-export file (incidents.importing.formats.own_json)."""

    # Each source id of the file → the content it was first given with, and in which record.
    _source_contents: dict[int, tuple[SourceKey, int]]

    def _geocoding_step(self, geocoder: Geocoder | None) -> GeocodingStep:
        self._source_contents = {}
        return GeocodingStep(None, as_recorded=True)

    def _pending(self, record: ImportRecord, loaded: dict[str, Any], method: str) -> Pending:
        return Pending(
            record.external_id,
            loaded,
            method,
            preferred_id=record.preferred_id,
            preferred_public_id=record.preferred_public_id,
            source_ids=record.source_ids,
            status=record.status,
            digest=record.digest,
        )

    def _check_more(self, record: ImportRecord, loaded: dict[str, Any]) -> None:
        if record.source_ids is not None:
            self._check_source_ids(record, record.source_ids, loaded)

    def _count(self, record: ImportRecord, method: str) -> None:
        super()._count(record, method)
        if record.status == PublicationStatus.RETRACTED:
            self.report.kept_retracted += 1
        elif record.status == PublicationStatus.DRAFT and self.options.publish:
            self.report.kept_drafts += 1

    def _compared(self, record: ImportRecord) -> bool:
        return record.status != PublicationStatus.RETRACTED

    def _holds_for_review(self) -> bool:
        # What the file has as published was reviewed where it comes from, duplicates included (the file
        # does not carry the flags' outcomes): restored as it was, its possible duplicates flagged again.
        return False

    def _check_source_ids(self, record: ImportRecord, source_ids: list[int], loaded: dict[str, Any]) -> None:
        """Our own exports tell sources apart by id (record.source_ids): one id given to two different sources
        is an error (the second would silently become the first)."""
        for index, (source_id, citation) in enumerate(zip(source_ids, loaded["citations"], strict=True)):
            content = source_key(citation["source"])
            first = self._source_contents.setdefault(source_id, (content, record.row))
            if first[0] != content:
                record.problems.append(
                    Problem(
                        record.row,
                        f"citations.{index}.source.id",
                        f"The source id {source_id} is also that of another source, in "
                        f"{self.report.row_label} {first[1]}: one id, one source.",
                    )
                )

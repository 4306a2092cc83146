"""A record that passed validation, waiting to be written, and how its sources are told apart."""

from __future__ import annotations

import enum
import operator
from dataclasses import dataclass, field
from typing import Any

from incidents.importing.formats.base import SOURCE_FIELDS
from incidents.vocabulary import PublicationStatus

SourceKey = tuple[Any, ...]


_source_fields = operator.itemgetter(*SOURCE_FIELDS)
# Files cite the same few sources row after row: their keys are remembered, by their values as given.
_source_keys: dict[tuple[Any, ...], SourceKey] = {}
_SOURCE_KEYS_KEPT = 10_000


def source_key(source: dict[str, Any]) -> SourceKey:
    """Two sources are one when every field is the same, ignoring case and runs of spaces in text."""
    values = _source_fields(source) if len(source) == len(SOURCE_FIELDS) else None
    try:
        key = _source_keys.get(values) if values is not None else None
    except TypeError:  # an unhashable value: not remembered
        key = values = None
    if key is None:
        key = tuple(
            " ".join(value.split()).casefold() if isinstance(value, str) else value
            for value in (source.get(name) for name in SOURCE_FIELDS)
        )
        if values is not None:
            if len(_source_keys) >= _SOURCE_KEYS_KEPT:
                _source_keys.clear()
            _source_keys[values] = key
    return key


@dataclass(slots=True)
class Pending:
    """A record that passed validation, waiting to be written."""

    external_id: str
    loaded: dict[str, Any]
    location_method: str
    preferred_id: int | None = None  # kept when free (our own exports before format 1.3)
    preferred_public_id: str | None = None  # kept when free (our own exports)
    source_ids: list[int] | None = None  # the file's id of each cited source (our own exports)
    status: str | None = None  # a staff export's own status (see status_for)
    digest: str | None = None  # of the record as read (incidents.external_digest)
    keys: list[SourceKey] = field(default_factory=list)

    def __post_init__(self) -> None:
        # What tells this record's sources apart: the file's ids where it has them, their content if not.
        if self.source_ids is not None:
            self.keys = [("id", source_id) for source_id in self.source_ids]
        else:
            self.keys = [source_key(citation["source"]) for citation in self.loaded["citations"]]


# The incident's columns a record reads that hold enums (as the database gives them back: by value).
ENUM_COLUMNS = ("date_precision", "location_precision", "verification_grade")


def plain(value: Any) -> Any:
    """A value as the database gives it back: enums by their value."""
    return value._value_ if isinstance(value, enum.Enum) else value  # _value_: a plain attribute, fast


def status_for(in_file: str | None, chosen: PublicationStatus) -> PublicationStatus:
    """An imported incident's status: the one chosen (draft, or published with --publish), except that an
    incident a staff export has as a draft stays a draft (nobody published it where it comes from) and one
    retracted stays retracted (a retraction is not undone by moving the data)."""
    if in_file == PublicationStatus.RETRACTED:
        return PublicationStatus.RETRACTED
    if in_file == PublicationStatus.DRAFT:
        return PublicationStatus.DRAFT
    return chosen

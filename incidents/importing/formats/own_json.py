"""Our own JSON export (incidents-export 1.x, see incidents/exports/schema): one record, one incident.

Version 1.0 has no claim groups: its claims count their whole category, as a 1.1 claim with an empty group.

The checksum in the file's header is checked first: a file changed after export is refused. Incident and
source ids are kept where they are free in this database (importing into an empty one gives back the same
export, checksum included): the incidents' public ids (format 1.3; the numbers of earlier versions); the
incidents keep the exporting instance's id as their external id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from incidents.exports.formats import FORMAT_NAME, FORMAT_VERSION, GEOJSON_FORMAT_NAME
from incidents.exports.serialize import canonical_json
from incidents.importing.formats.base import SOURCE_FIELDS, ImportRecord
from incidents.importing.reading import FileError
from incidents.importing.report import Problem
from incidents.public_ids import is_public_id
from incidents.vocabulary import PublicationStatus

FORMAT = "json"
DATASET = "incidents"
# The versions this importer reads: 1.0 (claims without a group), 1.1 (no sensitivity, no confidential
# sources), 1.2 (numbered incidents) and 1.3.
SUPPORTED = ("1.0", "1.1", "1.2", FORMAT_VERSION)

COLUMNS = {
    "start_date": "date.start",
    "end_date": "date.end",
    "date_precision": "date.precision",
    "place_name": "location.place_name",
    "admin1": "location.admin1",
    "admin2": "location.admin2",
    "country": "location.country",
    "latitude": "location.latitude",
    "longitude": "location.longitude",
    "location_precision": "location.precision",
    "location_sensitive": "location_sensitivity.sensitive",
    "location_sensitive_reason": "location_sensitivity.reason",
    "estimates": "casualties",
}


def is_export(document: Any) -> bool:
    return isinstance(document, dict) and document.get("format") == FORMAT_NAME


def is_geojson_export(document: Any) -> bool:
    """Our GeoJSON export: its header is at the end, under "export"."""
    header = document.get("export") if isinstance(document, dict) else None
    return isinstance(header, dict) and header.get("format") == GEOJSON_FORMAT_NAME


class ExportJsonReader:
    format = FORMAT
    row_label = "record"
    notes: tuple[Problem, ...] = ()

    def __init__(self, document: dict[str, Any]) -> None:
        version = str(document.get("format_version", ""))
        if version not in SUPPORTED:
            raise FileError(
                f"This is {FORMAT_NAME} version {version or '?'}; this importer reads versions "
                f"{', '.join(SUPPORTED[:-1])} and {SUPPORTED[-1]}. A later version comes from a newer "
                "release of this application: upgrade this one to import it."
            )
        incidents, header = document.get("incidents"), document.get("header")
        if not isinstance(incidents, list) or not isinstance(header, dict):
            raise FileError(f"This {FORMAT_NAME} file is incomplete: it needs its incidents and its header.")
        self._digests = _check_checksum(incidents, header)
        self._incidents = incidents
        self._done = 0
        host = urlsplit(str(header.get("export_url") or "")).netloc
        self.dataset = f"{DATASET}:{host}"[:100] if host else DATASET

    def records(self) -> Iterator[ImportRecord]:
        for number, item in enumerate(self._incidents, start=1):
            self._done = number
            yield export_record(number, item, self._digests[number - 1])

    @property
    def progress(self) -> tuple[int, int]:
        return self._done, len(self._incidents)

    def close(self) -> None:
        self._incidents = []
        self._digests = []


def _check_checksum(incidents: list[Any], header: dict[str, Any]) -> list[str]:
    """Refuse a file whose checksum does not match; the SHA-256 of each incident's content (its digest)."""
    checksum = header.get("checksum")
    expected = checksum.get("value") if isinstance(checksum, dict) else None
    if not isinstance(expected, str):
        raise FileError("The header has no checksum: the file cannot be checked, and is not imported.")
    digest = hashlib.sha256()
    digests = []
    try:
        for item in incidents:
            content = canonical_json({key: value for key, value in item.items() if key != "url"})
            digest.update(content)
            digest.update(b"\n")
            digests.append(hashlib.sha256(content).hexdigest())
    except (AttributeError, KeyError, TypeError):
        raise FileError(
            "The incidents are not in the shape of an export: the checksum cannot be checked."
        ) from None
    if digest.hexdigest() != expected:
        raise FileError(
            "The checksum in the header does not match the incidents: the file was changed after it was "
            "exported, or is incomplete. It is not imported; export it again from its source."
        )
    if header.get("count") not in (None, len(incidents)):
        raise FileError(
            f"The header counts {header.get('count')} incidents; the file holds {len(incidents)}."
        )
    return digests


def export_record(number: int, item: Any, digest: str | None = None) -> ImportRecord:
    if not isinstance(item, dict):
        return ImportRecord(number, "", {}, COLUMNS, [Problem(number, "", "An incident must be an object.")])
    date: dict[str, Any] = item["date"] if isinstance(item.get("date"), dict) else {}
    location: dict[str, Any] = item["location"] if isinstance(item.get("location"), dict) else {}
    sensitivity = item.get("location_sensitivity")
    sensitivity = sensitivity if isinstance(sensitivity, dict) else {}
    problems: list[Problem] = []
    source_ids: list[Any] = []
    citations = _citations(number, item, problems, source_ids)
    data: dict[str, Any] = {
        "title": item.get("title"),
        "narrative": item.get("narrative", ""),
        "types": _types(item.get("types")),
        "start_date": date.get("start"),
        "end_date": date.get("end"),
        "date_precision": date.get("precision"),
        "place_name": location.get("place_name", ""),
        "admin1": location.get("admin1", ""),
        "admin2": location.get("admin2", ""),
        "country": location.get("country"),
        "latitude": location.get("latitude"),
        "longitude": location.get("longitude"),
        "location_precision": location.get("precision"),
        "location_sensitive": sensitivity.get("sensitive", False),
        "location_sensitive_reason": sensitivity.get("reason", ""),
        "perpetrators": item.get("perpetrators", ""),
        "victims": item.get("victims", ""),
        "verification_grade": item.get("verification_grade"),
        "confidential_notes": item.get("confidential_notes", ""),
        "citations": citations,
        "estimates": _estimates(number, item.get("casualties"), problems),
    }
    incident_id = item.get("id")
    public_id = incident_id if is_public_id(incident_id) else None
    if public_id is not None:
        incident_id = None  # format 1.3: the public id; the database's own id is drawn anew
    elif not _is_id(incident_id):
        problems.append(
            Problem(number, "id", f"{incident_id!r} is not an incident id (a public id, or {_ID_RANGE}).")
        )
        incident_id = None
    source_ids = _checked_source_ids(number, source_ids, problems)
    status = _status(number, item, problems)
    return ImportRecord(
        number,
        public_id or str(incident_id or ""),
        data,
        COLUMNS,
        problems,
        preferred_id=incident_id,
        preferred_public_id=public_id,
        source_ids=source_ids or None,
        status=status,
        digest=digest,
    )


# The steps of export_record, each called once per record.


def _types(types: Any) -> Any:
    """The slugs of the record's types; anything but a list as it is, for the schema to say what it is."""
    if types is None:
        return []
    if not isinstance(types, list):
        return types
    return [t.get("slug") if isinstance(t, dict) else t for t in types if t]


def _estimates(number: int, casualties: Any, problems: list[Problem]) -> list[dict[str, Any]]:
    """The best estimates among the record's casualty figures (a problem when they are not a list)."""
    if casualties is None:
        return []
    if not isinstance(casualties, list):
        problems.append(Problem(number, "casualties", f"{casualties!r} is not a list of casualty figures."))
        return []
    return [
        {"category": c.get("category"), "best": c["best"]}
        for c in casualties
        if isinstance(c, dict) and c.get("best") is not None
    ]


def _citations(
    number: int, item: dict[str, Any], problems: list[Problem], source_ids: list[Any]
) -> list[dict[str, Any]]:
    """The record's citations as input, each source with its fields only; source_ids gets each cited
    source's id as given."""
    citations: list[dict[str, Any]] = []
    raw_citations: list[Any] = item["citations"] if isinstance(item.get("citations"), list) else []
    for index, citation in enumerate(raw_citations):
        if not isinstance(citation, dict) or not isinstance(citation.get("source"), dict):
            problems.append(
                Problem(number, f"citations.{index}", "A citation must be an object with its source.")
            )
            continue
        source = citation["source"]
        citations.append(
            {
                "source": {name: source.get(name) for name in SOURCE_FIELDS if name in source},
                "locator": citation.get("locator", ""),
                "quote": citation.get("quote", ""),
                "claims": citation.get("claims", []),
            }
        )
        # A public export shows a confidential source without its id: it is told apart by content then.
        source_ids.append(
            source.get("id") if not (source.get("confidential") and source.get("id") is None) else 0
        )
    return citations


def _checked_source_ids(number: int, source_ids: list[Any], problems: list[Problem]) -> list[Any]:
    """The cited sources' ids when every one is an id; [] (and a problem for each wrong one) otherwise.

    0 stands for a confidential source in a public export, which has no id: sources are then told apart by
    content, without a problem."""
    for index, source_id in enumerate(source_ids):
        if source_id == 0 and not isinstance(source_id, bool):
            continue
        if source_id is None:
            problems.append(
                Problem(number, f"citations.{index}.source.id", "Every cited source needs its id.")
            )
        elif not _is_id(source_id):
            problems.append(
                Problem(
                    number, f"citations.{index}.source.id", f"{source_id!r} is not a source id ({_ID_RANGE})."
                )
            )
    return source_ids if all(map(_is_id, source_ids)) else []


def _status(number: int, item: dict[str, Any], problems: list[Problem]) -> str | None:
    """A staff export's status; None (and a problem) when it is none of ours."""
    status = item.get("status")
    if status is not None and (not isinstance(status, str) or status not in _STATUSES):
        problems.append(
            Problem(number, "status", f"{status!r} is not a status: one of {', '.join(sorted(_STATUSES))}.")
        )
        return None
    return status


# Ids as every database this runs on stores them (PostgreSQL's integer is the narrowest).
_MAX_ID = 2**31 - 1
_ID_RANGE = f"a whole number from 1 to {_MAX_ID:,}"
_STATUSES = frozenset(status.value for status in PublicationStatus)


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= _MAX_ID

"""The demo data set: incidents of the Peru crackdown (December 2022 – January 2023), loaded like any input.

The file holds reusable sources, each under a key, and incidents whose citations name their source by
"source_key". Every source and every incident is created by the services the forms use (services.sources,
services.incidents), so the demo data obeys the same rules as researchers' records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from incidents.audit import COMMAND_LINE, Actor
from incidents.domain.duplicates import open_flags
from incidents.models import DuplicateFlag, Source
from incidents.schemas.errors import Path as FieldPath
from incidents.schemas.errors import grouped
from incidents.services.duplicates import confirm_distinct
from incidents.services.incidents import create_incident
from incidents.services.sources import create_source
from incidents.services.workflow import WorkflowRefused, transition
from incidents.vocabulary import PublicationStatus

FORMAT = "incidents-demo"
VERSION = 1


class DemoDataError(Exception):
    """The demo file cannot be loaded; the message names the record and field at fault."""


def demo_data_path() -> Path:
    """The demo data file shipped with the package."""
    return Path(__file__).resolve().parent.parent / "demo" / "peru-2022-2023.json"


def load_demo(path: Path | None = None, *, publish: bool, actor: Actor = COMMAND_LINE) -> int:
    """Create the file's sources and incidents in the current transaction; returns the number of incidents.

    Each incident is created as a draft; with publish, submitted and published by the operator, as the
    workflow has it (services.workflow), with the reason "the demo data set". The data set's incidents are
    distinct events by construction (a national state of emergency and its extension, a region's deaths and
    a town's): the possible duplicates found among them are confirmed distinct first, as the workflow asks
    before publishing. Nothing is committed: the caller commits, or rolls back on DemoDataError.
    """
    path = demo_data_path() if path is None else path
    document = _read(path)
    source_ids = _load_sources(document["sources"], actor)
    created = []
    for index, raw in enumerate(document["incidents"]):
        where = _incident_label(index, raw)
        data = _incident_input(raw, source_ids, where)
        data["status"] = PublicationStatus.DRAFT.value
        try:
            created.append((where, create_incident(data, actor).incident))
        except ValidationError as error:
            raise DemoDataError(f"{where}: {_describe(error.messages)}") from error
    if publish:
        for flag in sorted({flag for _, incident in created for flag in open_flags(incident.id)}, key=_id):
            confirm_distinct(flag, actor)
        for where, incident in created:
            try:
                for status in (PublicationStatus.IN_REVIEW, PublicationStatus.PUBLISHED):
                    transition(incident, status, actor, reason=_REASON, version=incident.version)
            except WorkflowRefused as refused:
                raise DemoDataError(f"{where}: not published: {refused}") from refused
    return len(document["incidents"])


_REASON = "the demo data set"


def _id(flag: DuplicateFlag) -> int:
    return flag.id


def _read(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise DemoDataError(f"Cannot read the demo file {path}: {error.strerror or error}") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DemoDataError(f"{path.name} is not valid UTF-8 JSON: {error}") from error
    if not isinstance(document, dict):
        raise DemoDataError(f"{path.name}: the top level must be an object.")
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise DemoDataError(
            f"{path.name}: expected format {FORMAT!r} version {VERSION}, "
            f"found {document.get('format')!r} version {document.get('version')!r}."
        )
    for key in ("sources", "incidents"):
        if not isinstance(document.get(key), list):
            raise DemoDataError(f"{path.name}: {key!r} must be a list.")
    return document


def _load_sources(raw_sources: list[Any], actor: Actor) -> dict[str, int]:
    """Create every source; returns their ids by key."""
    created: dict[str, Source] = {}
    for index, raw in enumerate(raw_sources):
        if not isinstance(raw, dict):
            raise DemoDataError(f"sources[{index}]: must be an object.")
        fields = dict(raw)
        key = fields.pop("key", None)
        where = f"sources[{index}] ({key!r})" if key else f"sources[{index}]"
        if not isinstance(key, str) or not key.strip():
            raise DemoDataError(f"{where}: key: a source needs a non-empty text key.")
        if key in created:
            raise DemoDataError(f"{where}: key: {key!r} is used by another source already.")
        try:
            created[key] = create_source(fields, actor)
        except ValidationError as error:
            raise DemoDataError(f"{where}: {_describe(error.messages)}") from error
    return {key: source.id for key, source in created.items()}


def _incident_input(raw: Any, source_ids: Mapping[str, int], where: str) -> dict[str, Any]:
    """The incident as IncidentInputSchema input: each citation's source_key replaced by its source_id."""
    if not isinstance(raw, dict):
        raise DemoDataError(f"{where}: must be an object.")
    if "status" in raw:
        raise DemoDataError(f"{where}: status: leave it out; --publish or --draft decides it.")
    citations = raw.get("citations", [])
    if not isinstance(citations, list):
        raise DemoDataError(f"{where}: citations: must be a list.")
    data = dict(raw)
    data["citations"] = []
    for number, citation in enumerate(citations):
        field = f"citations[{number}]"
        if not isinstance(citation, dict):
            raise DemoDataError(f"{where}: {field}: must be an object.")
        if "source_id" in citation or "source" in citation:
            raise DemoDataError(f"{where}: {field}: name the source by source_key, not source_id or source.")
        citation = dict(citation)
        key = citation.pop("source_key", None)
        if key not in source_ids:
            known = "no source_key given" if key is None else f"no source has the key {key!r}"
            raise DemoDataError(f"{where}: {field}.source_key: {known}.")
        citation["source_id"] = source_ids[key]
        data["citations"].append(citation)
    return data


def _incident_label(index: int, raw: Any) -> str:
    title = raw.get("title") if isinstance(raw, dict) else None
    return f"incidents[{index}] ({title!r})" if isinstance(title, str) and title else f"incidents[{index}]"


def _describe(messages: Any) -> str:
    """marshmallow's nested messages as "citations[0].claims[1].high: message; …"."""
    return "; ".join(
        f"{name}: {' '.join(texts)}" if name else " ".join(texts)
        for name, texts in grouped(messages, _bracketed).items()
    )


def _bracketed(path: FieldPath) -> str:
    name = ""
    for part in path:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name

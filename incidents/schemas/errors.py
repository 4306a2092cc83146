"""marshmallow's nested error messages, flattened once for every channel that words them.

marshmallow gives {"citations": {0: {"claims": {1: {"high": ["…"]}}}}, "_schema": ["…"]}. `walk` gives each
message with the path of its field, ("citations", 0, "claims", 1, "high"), "_schema" (a message about the
object itself) left out of the path. The API, the importer, the forms, the filters, the demo loader and the
command line each name a path in their own words from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Path = tuple[str | int, ...]


def walk(messages: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Each message, with the path of the field it is about (empty: the input as a whole)."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            yield from walk(value, path if key == "_schema" else (*path, key))
    elif isinstance(messages, list):
        for item in messages:
            yield from walk(item, path)
    else:
        yield path, str(messages)


def dotted(path: Path) -> str:
    """ "citations.0.claims.1.high" """
    return ".".join(str(part) for part in path)


def flatten(messages: Any) -> Iterator[tuple[str, str]]:
    """Each message with its dotted field path ("" for the input as a whole)."""
    for path, message in walk(messages):
        yield dotted(path), message


def grouped(messages: Any, name: Callable[[Path], str]) -> dict[str, list[str]]:
    """The messages by field, each field named by name(path), in the order marshmallow gives them."""
    found: dict[str, list[str]] = {}
    for path, message in walk(messages):
        found.setdefault(name(path), []).append(message)
    return found


def error_paths(messages: Any) -> dict[str, list[str]]:
    """The messages by dotted field path, "_body" for the input as a whole (the API's problem details)."""
    return grouped(messages, lambda path: dotted(path) or "_body")


def by_top_field(messages: Any) -> dict[str, str]:
    """One text per top-level field (a query parameter, a small form's field), all its messages joined."""
    return {
        name: " ".join(texts)
        for name, texts in grouped(messages, lambda path: str(path[0]) if path else "form").items()
    }

"""URL converters."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import BaseConverter, IntegerConverter, Map, ValidationError

from incidents.public_ids import PATTERN, is_public_id
from incidents.schemas.fields import MAX_INT


class RecordIdConverter(IntegerConverter):
    """A record id in a URL: 1 to the largest id the database holds; anything else is simply not found."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_INT)


class IncidentRefConverter(BaseConverter):
    """An incident in a URL: its public id (incidents.public_ids, typed in capitals too), or the number it
    had before public ids (web.incident_refs says who may use one); anything else is simply not found."""

    regex = f"(?:{PATTERN})|(?:[1-9][0-9]{{0,9}})"

    def to_python(self, value: str) -> int | str:
        if value.isdigit():
            if int(value) > MAX_INT:
                raise ValidationError()
            return int(value)
        return value.lower()

    def to_url(self, value: Any) -> str:
        if not is_public_id(value):
            raise ValueError(f"{value!r} is not a public id: incident URLs are made with the public id.")
        return str(value)

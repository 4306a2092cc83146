"""URL converters."""

from __future__ import annotations

from werkzeug.routing import IntegerConverter, Map

from incidents.schemas.fields import MAX_INT


class RecordIdConverter(IntegerConverter):
    """A record id in a URL: 1 to the largest id the database holds; anything else is simply not found."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_INT)

"""What every template may use."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pycountry
from flask import Flask

from incidents import vocabulary


def country_name(code: str | None) -> str:
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code)
    return country.name if country else code


def date_span(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return ""
    if end is None or end == start:
        return start.isoformat()
    return f"{start.isoformat()} – {end.isoformat()}"


def init_app(app: Flask) -> None:
    app.jinja_env.filters["country_name"] = country_name
    app.jinja_env.globals["date_span"] = date_span

    @app.context_processor
    def vocabularies() -> dict[str, Any]:
        return {"vocab": vocabulary}

"""Field types with the project's rules for text, counts and countries."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pycountry
from marshmallow import ValidationError, fields, validate

# The largest count or id we accept: PostgreSQL's INTEGER.
MAX_INT = 2**31 - 1

# Control characters that corrupt records: all below 32 but tab (and newline in multi-line text), and DEL.
# A regular expression, not a loop over characters: importers check hundreds of thousands of fields.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Text(fields.String):
    """Trimmed text with a length limit; refuses NUL and other control characters that corrupt records."""

    def __init__(self, max_length: int, *, multiline: bool = False, **kwargs: Any) -> None:
        if not kwargs.get("required"):
            kwargs.setdefault("load_default", "")
        super().__init__(**kwargs)
        self.max_length = max_length
        self.multiline = multiline

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if self.multiline:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if (_CONTROL_MULTILINE if self.multiline else _CONTROL).search(text):
            raise ValidationError("Contains control characters that are not allowed.")
        if len(text) > self.max_length:
            raise ValidationError(f"Must be at most {self.max_length} characters long (it is {len(text)}).")
        if self.required and not text:
            raise ValidationError("Must not be empty.")
        return text


class Count(fields.Integer):
    """A number of people: a whole number from 0. "12" and 12 are read; 2.9 is refused, never cut to 2."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            strict=False,
            validate=validate.Range(min=0, max=MAX_INT, error="Must be a whole number from 0 to {max}."),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise self.make_error("invalid")
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


# Dates of incidents and sources: from 1800 (historical archives) to a year from now. Anything outside is
# a typing mistake, and would break date arithmetic (timelines, duplicate windows) at the calendar's ends.
MIN_DATE = dt.date(1800, 1, 1)


class RecordDate(fields.Date):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.date:
        day: dt.date = super()._deserialize(value, attr, data, **kwargs)
        latest = dt.date.today() + dt.timedelta(days=366)
        if not MIN_DATE <= day <= latest:
            raise ValidationError(f"Must be between {MIN_DATE.isoformat()} and {latest.isoformat()}.")
        return day


class RecordId(fields.Integer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Range(min=1, max=MAX_INT, error="Not a valid id."), **kwargs)


class CountryCode(fields.String):
    """An ISO 3166-1 alpha-2 country code, upper-cased."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        typed = super()._deserialize(value, attr, data, **kwargs).strip()
        # ASCII checked before upper-casing: "ß".upper() is "SS" (South Sudan), which nobody typed.
        code = typed.upper() if typed.isascii() else typed
        if len(code) != 2 or not code.isascii() or pycountry.countries.get(alpha_2=code) is None:
            raise ValidationError(f"{code!r} is not an ISO 3166-1 alpha-2 country code (for example PE).")
        return code


class Url(fields.String):
    """An http(s) address, or empty."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("load_default", "")
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        url = super()._deserialize(value, attr, data, **kwargs).strip()
        if not url:
            return ""
        if len(url) > 2000:
            raise ValidationError("Must be at most 2000 characters long.")
        validate.URL(schemes={"http", "https"}, require_tld=False, error="Not a valid http(s) address.")(url)
        return url

"""Property tests on the input schemas: whatever arrives, the answer is a clean load or field errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from incidents.schemas import CasualtyClaimSchema, SourceInputSchema
from incidents.schemas.fields import MIN_DATE, CountryCode, Text
from incidents.schemas.filters import IncidentFilterSchema

LATEST = dt.date.today() + dt.timedelta(days=366)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(),
    st.lists(st.integers(), max_size=3),
)


@given(low=anything, high=anything)
def test_claims_load_only_sensible_ranges(low: Any, high: Any) -> None:
    try:
        claim = CasualtyClaimSchema().load({"category": "killed", "low": low, "high": high})
    except ValidationError as error:
        assert set(error.messages_dict) <= {"low", "high"}
        return
    assert isinstance(claim["low"], int) and isinstance(claim["high"], int)
    assert 0 <= claim["low"] <= claim["high"] <= 2**31 - 1


@given(low=st.integers(min_value=0, max_value=10**6), high=st.integers(min_value=0, max_value=10**6))
def test_low_above_high_is_always_refused(low: int, high: int) -> None:
    schema = CasualtyClaimSchema()
    if low <= high:
        assert schema.load({"category": "killed", "low": low, "high": high})["high"] == high
    else:
        with pytest.raises(ValidationError) as caught:
            schema.load({"category": "killed", "low": low, "high": high})
        assert "high" in caught.value.messages_dict


@given(text=st.text(max_size=400))
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_text_field_never_returns_control_characters_or_overlong_text(text: str) -> None:
    field = Text(300)
    try:
        value = field.deserialize(text)
    except ValidationError:
        return
    assert len(value) <= 300
    assert "\x00" not in value and all(ord(c) >= 32 or c == "\t" for c in value)
    assert value == value.strip()


@given(start=st.dates(), end=st.dates())
def test_filter_date_ranges(start: dt.date, end: dt.date) -> None:
    try:
        loaded = IncidentFilterSchema().load({"date_from": start.isoformat(), "date_to": end.isoformat()})
    except ValidationError as error:
        out_of_range = {
            name for name, day in (("date_from", start), ("date_to", end)) if not MIN_DATE <= day <= LATEST
        }
        if out_of_range:
            assert set(error.messages_dict) == out_of_range
        else:
            assert end < start
            assert set(error.messages_dict) == {"date_to"}
        return
    assert MIN_DATE <= loaded["date_from"] <= loaded["date_to"] <= LATEST


@given(value=st.text(max_size=30))
def test_source_dates_are_dates_or_field_errors(value: str) -> None:
    try:
        SourceInputSchema().load({"title": "t", "kind": "press", "publication_date": value})
    except ValidationError as error:
        assert set(error.messages_dict) == {"publication_date"}


@given(url=st.text(max_size=60))
def test_source_urls_are_http_only(url: str) -> None:
    try:
        loaded = SourceInputSchema().load({"title": "t", "kind": "press", "url": url})
    except ValidationError as error:
        assert set(error.messages_dict) == {"url"}
        return
    assert loaded["url"] == "" or loaded["url"].startswith(("http://", "https://"))


@pytest.mark.parametrize("typed", ["ß", "ﬅ", "pe\u0301"])
def test_a_country_code_is_two_ascii_letters_as_typed_not_after_case_folding(typed: str) -> None:
    # "ß".upper() is "SS" (South Sudan) and "ﬅ".upper() is "ST" (São Tomé): neither is what was typed.
    with pytest.raises(ValidationError) as error:
        CountryCode().deserialize(typed)
    assert "ISO 3166-1 alpha-2" in str(error.value)


def test_a_lower_case_country_code_is_read() -> None:
    assert CountryCode().deserialize(" pe ") == "PE"

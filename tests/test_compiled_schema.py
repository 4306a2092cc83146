"""The compiled IncidentInputSchema (the importer's fast path): for any input it gives what the schema gives,
or None and the schema loads the input itself; and it is the path valid records take."""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from marshmallow import Schema, ValidationError, fields, validate

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.importing.formats import open_reader
from incidents.importing.mapping import ColumnMapping
from incidents.schemas import (
    CasualtyClaimSchema,
    CasualtyEstimateSchema,
    CitationInputSchema,
    IncidentInputSchema,
    SourceInputSchema,
)
from incidents.schemas.compiled import NotCompilable, compile_schema
from incidents.schemas.fields import MAX_INT, MIN_DATE, Text
from incidents.services.demo import demo_data_path
from incidents.services.sources import create_source
from incidents.vocabulary import CasualtyCategory, DatePrecision
from tests.helpers import FIXTURES, UCDP_SAMPLE

TODAY = dt.date.today()
ABSENT = object()  # a field left out of the input

# Values that sit on the edge of what some field accepts, and plain wrong ones.
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2.5,
    3.0,
    "3",
    " 12",
    "12 ",
    "1_000",
    "+5",
    "٣",
    "0" * 25,
    "",
    "   ",
    b"bytes",
    "\x00x",
    "tab\there",
    "a\r\nb",
    "\x85",
    "\u2028",
    "x" * 301,
    MAX_INT,
    MAX_INT + 1,
    float("nan"),
    float("inf"),
    1e400,
    "1e3",
    "nan",
    "91",
    "-180.0",
    "1799-12-31",
    MIN_DATE.isoformat(),
    "2023-02-30",
    "20230101",
    "2023-W01-1",
    "2023-01-01T00:00:00",
    (TODAY + dt.timedelta(days=366)).isoformat(),
    (TODAY + dt.timedelta(days=367)).isoformat(),
    dt.date(2020, 1, 1),
    "killed",
    "bogus",
    CasualtyCategory.KILLED,
    "PE",
    " pe ",
    "XX",
    "https://example.org/report",
    "ftp://example.org",
    "http://",
    [],
    {},
    ["killing"],
    ["no_such_type"],
    ["Not A Slug"],
    [{}],
]
odd = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.text(max_size=12),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(),
    st.dates().map(dt.date.isoformat),
)


def ucdp_shape(**changes: Any) -> dict[str, Any]:
    """A record as the UCDP reader builds it: figures and coordinates as text."""
    data: dict[str, Any] = {
        "title": "Government of Bangladesh - JSS/SB: 3 killed, Bhandaria town",
        "narrative": "UCDP GED event 1000000, state-based conflict.\n\nSide A: Government of Bangladesh.",
        "types": ["killing"],
        "start_date": "2003-04-14",
        "end_date": None,
        "date_precision": "day",
        "place_name": "Bhandaria town",
        "admin1": "Barisal Division",
        "admin2": "Pirojpur District",
        "country": "BD",
        "latitude": "22.389804",
        "longitude": "89.980352",
        "location_precision": "near",
        "perpetrators": "Government of Bangladesh; JSS/SB",
        "victims": "",
        "verification_grade": "weak",
        "citations": [
            {
                "source": {
                    "title": "Clashes leave dead in Bangladesh (report 55)",
                    "kind": "press",
                    "publisher": "Agence France Presse",
                    "publication_date": "2003-04-15",
                },
                "claims": [{"category": "killed", "low": "3", "high": "5"}],
            }
        ],
        "estimates": [{"category": "killed", "best": "3"}],
    }
    data.update(changes)
    return data


def form_shape() -> dict[str, Any]:
    """A record as an API client sends it: numbers as numbers, two sources, every optional field."""
    return {
        "title": "Juliaca: protesters killed near the airport",
        "narrative": "Line one.\r\nLine two.\rLine three.",
        "types": ["killing", "injury"],
        "start_date": "2023-01-09",
        "end_date": "2023-01-10",
        "date_precision": "span",
        "place_name": "Juliaca",
        "admin1": "Puno",
        "admin2": "San Román",
        "country": "pe",
        "latitude": -15.5,
        "longitude": -70,
        "location_precision": "exact",
        "perpetrators": "National Police of Peru",
        "victims": "protesters",
        "verification_grade": "confirmed",
        "status": "published",
        "confidential_notes": "  trimmed  ",
        "version": 3,
        "citations": [
            {
                "source": {
                    "title": "Report",
                    "kind": "ngo_report",
                    "publisher": "Amnesty",
                    "author": "A. Author",
                    "publication_date": "2023-02-01",
                    "accessed_date": "2023-03-01",
                    "url": " https://example.org/report ",
                    "archive_url": "",
                    "language": "es",
                    "reliability": "B",
                },
                "locator": "p. 3",
                "quote": "«17 muertos»",
                "claims": [
                    {"category": "killed", "low": 17, "high": 18},
                    {"category": "injured", "low": 40, "high": None},
                ],
            },
            {"source": {"title": "Press", "kind": "press"}, "claims": [{"category": "killed", "low": 18}]},
        ],
        "estimates": [{"category": "killed", "best": 18}, {"category": "injured", "best": 40}],
    }


VALID_EXAMPLES = [
    ucdp_shape(),
    ucdp_shape(end_date="2003-04-20", date_precision="week", latitude=None, longitude=None),
    ucdp_shape(
        citations=[
            {
                "source": {"title": "UCDP GED", "kind": "other", "url": "https://ucdp.uu.se/downloads/"},
                "claims": [{"category": "killed", "low": "0", "high": "3"}],
            }
        ]
    ),
    ucdp_shape(citations=[], estimates=[]),
    form_shape(),
]


def same(got: Any, expected: Any) -> bool:
    """Equal, of the same types all the way down (an enum member is not its value, 1.0 is not 1), keys in
    the same order."""
    if type(got) is not type(expected):
        return False
    if isinstance(got, dict):
        return list(got) == list(expected) and all(same(got[key], expected[key]) for key in got)
    if isinstance(got, list):
        return len(got) == len(expected) and all(map(same, got, expected))
    if isinstance(got, float) and math.isnan(got):
        return math.isnan(expected)
    return bool(got == expected)


def assert_agrees(compiled: Any, schema: Schema, data: Any) -> Any:
    """compiled(data) is None, or is what the schema loads; the input is left as it was."""
    before = copy.deepcopy(data)
    got = compiled(data)
    assert data == before
    if got is None:
        return None
    expected = schema.load(data)  # raises if the compiled loader took something the schema refuses
    assert same(got, expected), (got, expected)
    return got


def test_incident_input_schema_compiles_completely() -> None:
    compile_schema(IncidentInputSchema())  # raises NotCompilable on a field it does not know


def test_valid_records_take_the_compiled_path(app: Flask) -> None:
    with app.app_context():
        schema, compiled = IncidentInputSchema(), compile_schema(IncidentInputSchema())
        for data in VALID_EXAMPLES:
            assert assert_agrees(compiled, schema, data) is not None, data


def test_records_the_importers_read_take_the_compiled_path(app: Flask) -> None:
    """Every record of the UCDP and ACLED files (fixtures and the real GED sample) the schema loads."""
    paths = [FIXTURES / "ucdp_ged.csv", FIXTURES / "ucdp_ged.geojson", FIXTURES / "acled.csv"]
    if UCDP_SAMPLE.exists():
        paths.append(UCDP_SAMPLE)
    with app.app_context():
        schema, compiled = IncidentInputSchema(), compile_schema(IncidentInputSchema())
        taken = 0
        for path in paths:
            reader = open_reader(path, format="auto", mapping=ColumnMapping(), dataset="file", type_slugs={})
            try:
                for record in reader.records():
                    try:
                        schema.load(record.data)
                    except ValidationError:
                        continue  # refused by the schema (today: none of them)
                    assert assert_agrees(compiled, schema, record.data) is not None, (path.name, record.row)
                    taken += 1
            finally:
                reader.close()
        assert taken >= 10


def test_demo_data_with_existing_sources_takes_the_compiled_path(app: Flask) -> None:
    """The demo incidents cite sources by id: the citation schema's own check finds them in the database."""
    document = json.loads(demo_data_path().read_text(encoding="utf-8"))
    with app.app_context():
        sources = {}
        for raw in document["sources"]:
            details = {key: value for key, value in raw.items() if key != "key"}
            sources[raw["key"]] = create_source(details, COMMAND_LINE)
        db.session.flush()
        schema, compiled = IncidentInputSchema(), compile_schema(IncidentInputSchema())
        for raw in document["incidents"]:
            data = dict(raw)
            data["citations"] = []
            for citation in raw["citations"]:
                cited = dict(citation)
                cited["source_id"] = sources[cited.pop("source_key")].id
                data["citations"].append(cited)
            assert assert_agrees(compiled, schema, data) is not None, data["title"]
        # A source id that names no source: the schema's check runs, and the schema words the problem.
        unknown = ucdp_shape(citations=[{"source_id": 10**6, "claims": []}], estimates=[])
        assert compiled(unknown) is None
        with pytest.raises(ValidationError, match="There is no source with id"):
            schema.load(unknown)
        db.session.rollback()


@pytest.mark.parametrize(
    "change",
    [
        {"types": ["no_such_type"]},  # known_types, a @validates method, asks the database
        {"end_date": "2003-04-01"},  # before the start: @validates_schema
        {"latitude": None},  # a longitude without a latitude
        {"estimates": [{"category": "killed", "best": "9"}]},  # outside the sources' range
        {"estimates": [{"category": "injured", "best": "1"}]},  # no source gives a figure
        {  # a low figure above the high one: the claim schema's @validates_schema
            "citations": [
                {
                    "source": {"title": "x", "kind": "press"},
                    "claims": [{"category": "killed", "low": "5", "high": "3"}],
                }
            ]
        },
        {"citations": [{"source_id": None, "claims": []}]},  # neither a source nor its id
        {"start_date": "2003-4-14"},
        {"country": "XX"},
        {"title": "  "},
        {"unknown": 1},
    ],
)
def test_invalid_records_fall_back_to_the_schema(app: Flask, change: dict[str, Any]) -> None:
    with app.app_context():
        data = ucdp_shape(**change)
        assert compile_schema(IncidentInputSchema())(data) is None
        with pytest.raises(ValidationError):
            IncidentInputSchema().load(data)


# Where a mutation may land: the record, its first citation, that citation's source and first claim, the
# first estimate; the key is one of that part's fields or one it does not have.
PARTS = {
    (): IncidentInputSchema,
    ("citations", 0): CitationInputSchema,
    ("citations", 0, "source"): SourceInputSchema,
    ("citations", 0, "claims", 0): CasualtyClaimSchema,
    ("estimates", 0): CasualtyEstimateSchema,
}
PART_KEYS = {path: [*schema().fields, "unknown"] for path, schema in PARTS.items()}


@st.composite
def mutated_records(draw: st.DrawFn) -> dict[str, Any]:
    data = copy.deepcopy(draw(st.sampled_from(VALID_EXAMPLES)))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        path = draw(st.sampled_from(sorted(PARTS, key=len)))
        part: Any = data
        for step in path:
            try:
                part = part[step]
            except (KeyError, IndexError, TypeError):
                break
        if not isinstance(part, dict):
            continue
        key = draw(st.sampled_from(PART_KEYS[path]))
        value = draw(st.one_of(st.just(ABSENT), odd))
        if value is ABSENT:
            part.pop(key, None)
        else:
            part[key] = value
    return data


def test_compiled_loader_agrees_with_the_schema_on_mutated_records(app: Flask) -> None:
    with app.app_context():
        schema, compiled = IncidentInputSchema(), compile_schema(IncidentInputSchema())

        @settings(max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(data=mutated_records())
        def agrees(data: dict[str, Any]) -> None:
            assert_agrees(compiled, schema, data)

        agrees()


def test_claims_remembered_by_input_are_told_apart_by_type_and_given_as_copies(app: Flask) -> None:
    """Claims load by their input alone, so the compiled schema remembers them: 1, "1", True and 1.0 must
    still get what the schema gives each, and a loaded claim changed afterwards must not change the next."""
    with app.app_context():
        schema, compiled = IncidentInputSchema(), compile_schema(IncidentInputSchema())
        record = json.loads(demo_data_path().read_text(encoding="utf-8"))["incidents"][0]
        record = {key: value for key, value in record.items() if key != "citations"}
        record["citations"] = [{"source": {"title": "EFE", "kind": "press"}, "claims": []}]
        record["estimates"] = []
        for low in (1, "1", True, 1.0, 1, "1", True, " 1", "1", "civilians", 1):
            data = copy.deepcopy(record)
            data["citations"][0]["claims"] = [
                {"category": "killed", "low": low, "group": "civilians"},
                {"category": "killed", "low": low},
            ]
            assert_agrees(compiled, schema, data)
        data = copy.deepcopy(record)
        data["citations"][0]["claims"] = [{"category": "killed", "low": 3, "group": "civilians"}]
        first = compiled(copy.deepcopy(data))
        assert first is not None
        first["citations"][0]["claims"][0]["low"] = 99
        second = compiled(copy.deepcopy(data))
        assert second is not None and second["citations"][0]["claims"][0]["low"] == 3


def texts(limits: list[int]) -> st.SearchStrategy[str]:
    alphabet = st.one_of(st.characters(), st.sampled_from("\x00\t\n\r\x0b\x1f\x7f\x85\x9f\xa0\u2028 é"))
    around = [n + delta for n in limits for delta in (-1, 0, 1)]
    return st.one_of(
        st.text(alphabet, max_size=20),
        st.builds(lambda n, tail: "a" * n + tail, st.sampled_from(around), st.text(alphabet, max_size=2)),
        st.builds(lambda tail: " " + tail + "\r\n", st.text(alphabet, max_size=5)),
    )


counts = st.one_of(
    odd,
    st.integers(min_value=-3, max_value=MAX_INT + 3),
    st.integers(min_value=0, max_value=10**6).map(str),
    st.sampled_from([MAX_INT - 1, MAX_INT, MAX_INT + 1, str(MAX_INT), str(MAX_INT + 1), "007", "-0"]),
)
numbers = st.one_of(
    odd,
    st.floats(min_value=-200, max_value=200),
    st.floats(min_value=-200, max_value=200).map(str),
    st.integers(min_value=-200, max_value=200),
    st.sampled_from([" 1.5", "1_0.5", ".5", "5.", "-90", "90.0000001", "-180", "180.5", "inf", "-nan"]),
)
days = st.one_of(
    odd,
    st.dates().map(dt.date.isoformat),
    st.integers(min_value=-3, max_value=3).map(lambda d: (MIN_DATE + dt.timedelta(days=d)).isoformat()),
    st.integers(min_value=364, max_value=368).map(lambda d: (TODAY + dt.timedelta(days=d)).isoformat()),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
)
countries = st.one_of(
    odd, st.sampled_from(["PE", "pe", " Pe", "BD", "XK", "UK", "GB", "PER", "ß", "ǅ"]), st.text(max_size=3)
)
urls = st.one_of(
    odd,
    st.sampled_from(
        ["https://example.org", " http://localhost/x ", "http://a.b/" + "x" * 2000, "https://", "x"]
    ),
    st.text(max_size=10).map(lambda tail: "https://example.org/" + tail),
)
choices = st.one_of(odd, st.sampled_from([*(p.value for p in DatePrecision), "DAY", " day", "A", "F", "f"]))
slugs = st.one_of(
    odd, st.lists(st.one_of(odd, st.sampled_from(["killing", "a_b", "a__b", "_a"])), max_size=3)
)

FIELD_CASES = [
    (IncidentInputSchema, "title", texts([300])),
    (IncidentInputSchema, "narrative", texts([20000])),
    (SourceInputSchema, "language", texts([35])),
    (CasualtyClaimSchema, "low", counts),
    (CasualtyClaimSchema, "high", counts),
    (CasualtyClaimSchema, "group", texts([200])),
    (CitationInputSchema, "source_id", counts),
    (IncidentInputSchema, "version", counts),
    (IncidentInputSchema, "latitude", numbers),
    (IncidentInputSchema, "longitude", numbers),
    (IncidentInputSchema, "start_date", days),
    (IncidentInputSchema, "end_date", days),
    (IncidentInputSchema, "country", countries),
    (SourceInputSchema, "url", urls),
    (IncidentInputSchema, "date_precision", choices),
    (SourceInputSchema, "reliability", choices),
    (IncidentInputSchema, "types", slugs),
]


@pytest.mark.parametrize(
    ("schema_class", "name", "values"), FIELD_CASES, ids=[f"{s.__name__}.{n}" for s, n, _ in FIELD_CASES]
)
def test_each_field_agrees_with_the_schema(
    schema_class: type[Schema], name: str, values: st.SearchStrategy[Any]
) -> None:
    """One field at a time, as declared in the real schema, alone in a schema of its own (no hooks)."""
    single = Schema.from_dict({name: schema_class().fields[name]})()
    compiled = compile_schema(single)

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(value=st.one_of(st.just(ABSENT), values))
    def agrees(value: Any) -> None:
        assert_agrees(compiled, single, {} if value is ABSENT else {name: value})

    agrees()


class Shout(fields.String):
    pass


@pytest.mark.parametrize(
    "declared",
    [
        {"name": fields.Email()},
        {"name": Shout()},  # a subclass may change what its parent accepts
        {"name": fields.String(validate=validate.OneOf(["a"]))},
        {"name": fields.String(pre_load=str.strip)},
        {"name": fields.Enum(DatePrecision)},  # by name
        {"inner": fields.Nested(Schema.from_dict({"when": fields.DateTime()}))},
        {"texts": fields.List(Text(10, validate=validate.Email()))},
    ],
)
def test_unknown_field_classes_validators_and_options_are_refused(declared: dict[str, Any]) -> None:
    with pytest.raises(NotCompilable):
        compile_schema(Schema.from_dict(declared)())

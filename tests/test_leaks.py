"""Nothing private reaches the public: a crawl of every public answer, searched for seeded markers.

A draft, an incident in review, a retracted one, confidential notes, a confidential witness testimony, a
sensitive location and one a location rule covers are seeded through the services, each text field holding
a marker of its own and each private point coordinates of distinctive digits. A logged-out crawl
(tests/public_crawl.py) then reads the pages the app links to, every GET route of the URL map with its
arguments filled, the map's data at several zooms, areas and filters, the timeline, every export format with
and without filters, and the API to its last page: no answer may hold a marker, or a private point to 4
decimals (SECURITY.md 3 and 4). Then: a new draft moves no public count or checksum (no side channel); the
crawl finds the markers when one output skips the policy (it is not blind); a coarsened point is the same in
every output, and the export checksum holds steady.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.audit import COMMAND_LINE, Actor, Channel
from incidents.derived import stored_records
from incidents.domain.duplicates import open_flags
from incidents.domain.sensitivity import DEFAULT_GRID, snap
from incidents.exports import public_page, reader, serialize
from incidents.extensions import db
from incidents.models import Incident, LocationRule, User
from incidents.queries import map_view, shown, timeline
from incidents.schemas.incident import incident_input
from incidents.services.duplicates import confirm_distinct
from incidents.services.incidents import create_incident, retract_incident, update_incident
from incidents.services.sources import create_source
from incidents.services.workflow import transition
from incidents.vocabulary import LocationRuleKind, PublicationStatus, Role
from tests.factories import create_user, killed
from tests.helpers import checksum, export_json, recomputed_checksum
from tests.public_crawl import Answer, crawl, leaks, report, with_query

TAG = "7731"
EDITOR_EMAIL = f"leak-editor-{TAG}@example.org"
# The area of the seeded incidents, in Peru: the map is read over it, over the world, and close up.
PERU = "-76,-16,-69,-11"
RULE_GRID = 0.5
# The witness testimony's dates: the public sees neither (nor any date that would identify it).
TESTIMONY_DATES = {"1987-03-29": "the testimony's date", "1987-04-02": "the testimony's accessed date"}

# Filters of the list, map, timeline, exports and API, each selecting some of the published incidents.
# status= is a staff filter: for the public it must change nothing.
FILTERS = [
    "",
    "q=protest",
    "type=killing",
    "type=curfew",
    "admin1=Ayacucho",
    "country=PE",
    "grade=fair",
    "min_killed=1",
    "perpetrator=police",
    "date_from=2023-01-01&date_to=2023-01-31",
    f"bbox={PERU}",
    "status=draft",
    "status=retracted",
]
MAP_FILTERS = ["", "type=killing", "admin1=Ayacucho", "q=protest", "date_from=2023-01-01&date_to=2023-01-31"]
ZOOMS = [2, 6, 10, 14]
VIEWS = ["/", "/incidents/", "/timeline", "/export.json", "/export.geojson", "/export.csv"]
# GET routes whose arguments the crawl cannot fill: it reaches them by the links pages give.
FILLED_BY_LINKS = {"static", "vendor"}
# An incident named by its database number: a numbered link, or a number as the id of a record (its keys
# sorted, or in the API's order after its url: a source's record starts with its id, which is public), of a
# GeoJSON feature or of a map feature; in a CSV, a row's first cell.
NUMBERED = re.compile(
    r'/incidents/\d|(?<!\{)"id": ?\d+, ?"title"|"id": ?\d+, ?"location"|"Feature", ?"id": ?\d'
    r'|"kind": ?"incident", ?"id": ?\d'
)
PLACEHOLDER = "aaaaaaaaaaaa"  # a public id no incident has: where a number goes in a URL built here
NUMBERED_ROW = re.compile(r"\n\d+,")


def incident_number_in(answer: Answer) -> str | None:
    """Where the answer names an incident by its database number, if it does: the text that does."""
    found = NUMBERED.search(answer.text) or (
        answer.mimetype == "text/csv" and NUMBERED_ROW.search(answer.text)
    )
    return found.group() if found else None


def marker(record: str, field_name: str) -> str:
    return f"leak-{record}-{field_name}-{TAG}"


def coordinate_markers(latitude: float, longitude: float) -> list[str]:
    """The digits of a point to 4 decimals, without sign: in any rounding or format of 4 decimals or more."""
    found = [f"{abs(value):.4f}" for value in (latitude, longitude)]
    for value, text in zip((latitude, longitude), found, strict=True):
        # The 5th decimal below 5: rounding to 4 decimals does not move the 4th, so every form holds it.
        assert all(text in f"{value:.{places}f}" for places in range(4, 8)) and text in repr(value), value
    return found


@dataclass
class Seeded:
    """What was seeded: the ids to fetch, and every marker with what it is."""

    markers: dict[str, str] = field(default_factory=dict)
    published: dict[str, int] = field(default_factory=dict)
    unpublished: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    points: dict[str, tuple[float, float]] = field(default_factory=dict)
    public_ids: dict[str, str] = field(default_factory=dict)  # each record's public id (its URLs)

    def mark(self, text: str, what: str) -> str:
        assert text not in self.markers, text
        self.markers[text] = what
        return text

    def mark_point(self, record: str, latitude: float, longitude: float) -> tuple[float, float]:
        for text in coordinate_markers(latitude, longitude):
            self.mark(text, f"the {record} incident's recorded coordinates")
        self.points[record] = (latitude, longitude)
        return latitude, longitude

    def private_source(self, record: str, kind: str = "press") -> dict[str, Any]:
        """A source whose every text is a marker."""
        m = self.text(record)
        return {
            "title": m("source-title"),
            "kind": kind,
            "publisher": m("source-publisher"),
            "author": m("source-author"),
            "url": f"https://{m('source-url')}.example.org/statement",
            "archive_url": f"https://archive.example.org/{m('source-archive')}",
            "reliability": "B",
        }

    def text(self, record: str) -> Callable[[str], str]:
        return lambda name: self.mark(marker(record, name), f"the {record} incident's {name}")

    @property
    def all_incidents(self) -> dict[str, int]:
        return self.published | self.unpublished


def _published(start_date: str, title: str, **fields: Any) -> dict[str, Any]:
    return {
        "title": title,
        "types": ["killing"],
        "start_date": start_date,
        "date_precision": "day",
        "country": "PE",
        "location_precision": "near",
        "perpetrators": "National Police of Peru",
        "victims": "protesters",
        "verification_grade": "fair",
        "status": "in_review",
        "citations": [killed(2, 3, source=f"Press report: {title}")],
        **fields,
    }


def _unpublished(seeded: Seeded, record: str, point: tuple[float, float], start_date: str) -> dict[str, Any]:
    """An incident whose every text field is a marker, at a private point, citing a private source."""
    m = seeded.text(record)
    latitude, longitude = seeded.mark_point(record, *point)
    return {
        "title": m("title"),
        "narrative": m("narrative"),
        "types": ["killing", "curfew"],
        "start_date": start_date,
        "date_precision": "day",
        "place_name": m("place"),
        "admin1": m("admin1"),
        "admin2": m("admin2"),
        "country": "PE",
        "latitude": latitude,
        "longitude": longitude,
        "location_precision": "exact",
        "perpetrators": m("perpetrators"),
        "victims": m("victims"),
        "verification_grade": "fair",
        "confidential_notes": m("notes"),
        "status": "draft",
        "citations": [
            {
                "source": seeded.private_source(record),
                "locator": m("locator"),
                "quote": m("quote"),
                "claims": [{"category": "killed", "low": 7, "high": 9}],
            }
        ],
    }


def _save(data: dict[str, Any], actor: Actor, *, to: list[tuple[PublicationStatus, str]]) -> int:
    """Create the incident as actor, then move it along the workflow by the operator, with these reasons."""
    incident = create_incident(data, actor).incident
    if to:
        for flag in open_flags(incident.id):
            confirm_distinct(flag, COMMAND_LINE)
    for status, reason in to:
        if status == PublicationStatus.RETRACTED:
            retract_incident(incident, COMMAND_LINE, reason=reason, version=incident.version)
        else:
            transition(incident, status, COMMAND_LINE, reason=reason, version=incident.version)
    db.session.flush()
    return incident.id


def _publish(seeded: Seeded, record: str) -> list[tuple[PublicationStatus, str]]:
    reason = seeded.mark(marker(record, "publish-reason"), "a reviewer's reason for publishing")
    return [(PublicationStatus.PUBLISHED, reason)]


def seed(app: Flask) -> Seeded:
    seeded = Seeded()
    editor = create_user(app, seeded.mark(EDITOR_EMAIL, "an editor's email"), Role.EDITOR)
    with app.app_context():
        actor = Actor(db.session.get_one(User, editor.id), Channel.WEB)
        _seed_ordinary(seeded, actor)
        _seed_unpublished(seeded, actor)
        _seed_confidential(seeded, actor)
        _seed_sensitive(seeded, actor)
        db.session.commit()
        for record, incident_id in seeded.all_incidents.items():
            incident = db.session.get_one(Incident, incident_id)
            seeded.public_ids[record] = incident.public_id
            for citation in incident.citations:
                seeded.sources.setdefault(f"{record} {citation.position}", citation.source_id)
    return seeded


def _seed_ordinary(seeded: Seeded, actor: Actor) -> None:
    """Published incidents with nothing private, so that every page has something to show."""
    ordinary = {
        "juliaca": _published(
            "2023-01-09",
            "Police fire on protesters in Juliaca",
            place_name="Juliaca",
            admin1="Puno",
            admin2="San Román",
            latitude=-15.5,
            longitude=-70.13,
        ),
        "cusco": _published(
            "2023-01-18",
            "Curfew and arrests after protest in Cusco",
            types=["curfew", "arrest_detention"],
            place_name="Cusco",
            admin1="Cusco",
            latitude=-13.52,
            longitude=-71.97,
        ),
        "lima": _published(
            "2023-02-15",
            "Protest in Lima, no coordinates recorded",
            admin1="Lima",
            location_precision="admin1",
        ),
    }
    for record, data in ordinary.items():
        seeded.published[record] = _save(data, actor, to=_publish(seeded, record))


def _seed_unpublished(seeded: Seeded, actor: Actor) -> None:
    """A draft, an incident in review and a retracted one: all markers, all private."""
    draft = _unpublished(seeded, "draft", (-12.4817263, -74.0629417), "2023-01-10")
    seeded.unpublished["draft"] = _save(draft, actor, to=[])
    review = _unpublished(seeded, "review", (-11.9374028, -75.8142193), "2023-01-11")
    seeded.unpublished["review"] = _save(review | {"status": "in_review"}, actor, to=[])
    retracted = _unpublished(seeded, "retracted", (-15.2749361, -70.4918273), "2023-01-12")
    reason = seeded.mark(marker("retracted", "retract-reason"), "a reviewer's reason for retracting")
    road = [(PublicationStatus.IN_REVIEW, ""), *_publish(seeded, "retracted")]
    seeded.unpublished["retracted"] = _save(
        retracted, actor, to=[*road, (PublicationStatus.RETRACTED, reason)]
    )


def _seed_confidential(seeded: Seeded, actor: Actor) -> None:
    """A published incident with confidential notes, and one citing a confidential witness testimony."""
    notes = _published(
        "2023-01-13",
        "Detentions at a roadblock near Juliaca",
        types=["arrest_detention"],
        place_name="Juliaca",
        admin1="Puno",
        latitude=-15.49,
        longitude=-70.12,
        confidential_notes=seeded.text("notes")("notes"),
    )
    seeded.published["notes"] = _save(notes, actor, to=_publish(seeded, "notes"))
    m = seeded.text("witness")
    testimony = seeded.private_source("witness", kind="witness_testimony") | {
        "publication_date": seeded.mark("1987-03-29", TESTIMONY_DATES["1987-03-29"]),
        "accessed_date": seeded.mark("1987-04-02", TESTIMONY_DATES["1987-04-02"]),
        "language": "qu",
    }
    witness = _published(
        "2023-01-14",
        "Protesters shot at the Ilave bridge",
        place_name="Ilave",
        admin1="Puno",
        latitude=-16.08,
        longitude=-69.64,
        citations=[
            {"source": testimony, "locator": m("locator"), "quote": m("quote"), "claims": _killed_claim(4)},
            killed(3, source="Press report on the Ilave bridge"),
        ],
    )
    seeded.published["witness"] = _save(witness, actor, to=_publish(seeded, "witness"))
    seeded.sources["witness"] = (
        db.session.get_one(Incident, seeded.published["witness"]).citations[0].source_id
    )


def _killed_claim(low: int) -> list[dict[str, Any]]:
    return [{"category": "killed", "low": low}]


def _seed_sensitive(seeded: Seeded, actor: Actor) -> None:
    """A published incident marked sensitive, and one covered by a location rule on a source it cites."""
    sensitive = _published(
        "2023-01-15",
        "Protesters killed on the Huamanga road",
        **_private_place(seeded, "sensitive", (-13.6556123, -73.3872456), "Ayacucho", "La Mar"),
        location_sensitive=True,
        location_sensitive_reason=seeded.text("sensitive")("sensitive-reason"),
    )
    seeded.published["sensitive"] = _save(sensitive, actor, to=_publish(seeded, "sensitive"))

    source = create_source({"title": "Radio Tawantinsuyo report", "kind": "press"}, COMMAND_LINE)
    db.session.flush()
    seeded.sources["rule"] = source.id
    reason = seeded.mark(marker("rule", "reason"), "a location rule's reason")
    db.session.add(
        LocationRule(kind=LocationRuleKind.SOURCE, source_id=source.id, grid_degrees=RULE_GRID, reason=reason)
    )
    db.session.flush()
    covered = _published(
        "2023-01-16",
        "Raid on a community radio in Aymaraes",
        **_private_place(seeded, "rule", (-14.2837319, -72.9164283), "Apurímac", "Aymaraes"),
        citations=[{"source_id": source.id, "claims": _killed_claim(1)}],
    )
    seeded.published["rule"] = _save(covered, actor, to=_publish(seeded, "rule"))


def _private_place(
    seeded: Seeded, record: str, point: tuple[float, float], admin1: str, admin2: str
) -> dict[str, Any]:
    """An exact location whose place name and point are markers, in public regions."""
    latitude, longitude = seeded.mark_point(record, *point)
    place = seeded.text(record)("place")
    return {
        "place_name": place,
        "admin1": admin1,
        "admin2": admin2,
        "location_precision": "exact",
        "latitude": latitude,
        "longitude": longitude,
    }


@pytest.fixture
def seeded(app: Flask) -> Seeded:
    return seed(app)


# -- the crawl ----------------------------------------------------------------------------------------------


def crawl_seeds(app: Flask, seeded: Seeded) -> list[str]:
    """Where the crawl starts: the views under every filter, the map's data, the API, every GET route."""
    urls = [with_query(view, query) for view, query in itertools.product(VIEWS, FILTERS)]
    urls += [with_query("/export.csv", f"{query}&hxl=1" if query else "hxl=1") for query in FILTERS]
    urls += [with_query("/api/v1/incidents", f"{query}&limit=2" if query else "limit=2") for query in FILTERS]
    urls += ["/api/v1/incidents", "/api/v1/incidents?limit=500", "/api/v1/sources?limit=1", "/api/v1/sources"]
    urls += map_data_urls(seeded)
    urls += list(_url_map_urls(app, seeded))
    return urls


def map_data_urls(seeded: Seeded) -> list[str]:
    """The map's data as its script asks for it: areas × zooms × filters."""
    areas = ["-180,-85,180,85", PERU]
    for record in ("sensitive", "rule", "draft"):
        areas.append(close_round(*seeded.points[record]))
    return [
        with_query("/map/data.geojson", "&".join(filter(None, [f"bbox={area}&zoom={zoom}", query])))
        for area, zoom, query in itertools.product(areas, ZOOMS, MAP_FILTERS)
    ]


def close_round(latitude: float, longitude: float) -> str:
    """A bbox of 0.01° round a recorded point: it holds the point, not the centre of its 0.1° cell."""
    west, south, east, north = longitude - 0.005, latitude - 0.005, longitude + 0.005, latitude + 0.005
    return f"{west:.3f},{south:.3f},{east:.3f},{north:.3f}"


def _url_map_urls(app: Flask, seeded: Seeded) -> Iterator[str]:
    """Every GET rule of the URL map with its arguments filled in every way the seeded data allows."""
    values: dict[str, list[str]] = {
        # Every incident by its public id and by its database number (which the public never gets an
        # answer for: these incidents had no numbered URL before public ids); ids no incident has.
        "ref": [str(i) for i in seeded.all_incidents.values()]
        + list(seeded.public_ids.values())
        + ["999999", "zzzzzzzzzzzz"],
        "source_id": [str(i) for i in sorted(set(seeded.sources.values()))] + ["999999"],
        "fmt": ["json", "geojson", "csv"],
        "version": ["1.0", "1.1", "1.2", "1.3"],
        "flag_id": ["1"],
        "user_id": ["1"],
        "token_id": ["1"],
        "token": ["x" * 32],
    }
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        if not set(rule.arguments) <= set(values):
            assert rule.endpoint in FILLED_BY_LINKS, f"the crawl cannot fill the arguments of {rule.rule}"
            continue
        names = sorted(rule.arguments)
        for combination in itertools.product(*(values[name] for name in names)):
            arguments: dict[str, Any] = dict(zip(names, combination, strict=True))
            number = arguments.get("ref", "") if arguments.get("ref", "").isdigit() else None
            if number is not None:
                arguments["ref"] = PLACEHOLDER  # the app builds no numbered URL (web.routing)
            with app.test_request_context():
                url = app.url_for(rule.endpoint, **arguments)
            yield url if number is None else url.replace(PLACEHOLDER, number)


def public_crawl(app: Flask, seeded: Seeded) -> dict[str, Answer]:
    return crawl(app.test_client(), crawl_seeds(app, seeded))


# -- the tests ----------------------------------------------------------------------------------------------


def test_no_public_answer_holds_a_private_marker_or_point(app: Flask, seeded: Seeded) -> None:
    answers = public_crawl(app, seeded)
    found = leaks(answers, seeded.markers)
    assert not found, report(found)
    # The crawl read what it should have: every view, the API to its end, each exported format.
    reached = {url.split("?")[0] for url in answers}
    assert {"/", "/incidents/", "/timeline", "/map/data.geojson", "/export/schema/1.3.json"} <= reached
    assert {f"/incidents/{seeded.public_ids[record]}" for record in seeded.published} <= reached
    # Nothing public names an incident by its database number, which would tell by its gaps how many are
    # unpublished: no link, no record id, no cursor.
    numbered = {
        url: found
        for url, answer in answers.items()
        # (A numbered URL the crawl asked for is echoed by the login's ?next=: not something the app tells.)
        if not NUMBERED.search(url) and (found := incident_number_in(answer))
    }
    assert not numbered, f"incidents named by number: {list(numbered.items())[:5]}"
    assert sum(answer.mimetype == "text/csv" for answer in answers.values()) > len(FILTERS)
    assert any("cursor=" in url for url in answers), "no API cursor was followed"


def test_unpublished_incidents_are_not_found_by_the_public(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    for record, incident_id in seeded.unpublished.items():
        for ref in (incident_id, seeded.public_ids[record]):
            for url in (f"/incidents/{ref}", f"/api/v1/incidents/{ref}"):
                assert client.get(url).status_code == 404, (record, url)
            for url in (f"/incidents/{ref}/history", f"/incidents/{ref}/edit"):
                response = client.get(url)
                assert response.status_code == 302 and "/login" in response.location, (record, url)
        for name, source_id in seeded.sources.items():
            if name.startswith(f"{record} "):  # cited by this incident alone
                assert client.get(f"/api/v1/sources/{source_id}").status_code == 404, (record, source_id)
    for record, incident_id in seeded.published.items():
        public_id = seeded.public_ids[record]
        assert client.get(f"/api/v1/incidents/{public_id}").status_code == 200, record
        assert client.get(f"/incidents/{public_id}").status_code == 200, record
        # Entered since public ids: its number is no URL, exactly as a number no incident has, so that
        # numbers tried one by one tell nothing. (Numbered URLs from before keep working: test_migrations.)
        for url in (f"/incidents/{incident_id}", f"/api/v1/incidents/{incident_id}"):
            assert client.get(url).status_code == 404, (record, url)


# -- the sources API ---------------------------------------------------------------------------------------

# The leak this test found first: the public sources API listed a confidential witness testimony in full
# (title, publisher, author, url, archive_url, dates). It now never shows the public a confidential source.
SOURCES_API = "/api/v1/sources"


def test_the_sources_api_withholds_a_confidential_source(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    seeds = [f"{SOURCES_API}?limit=1", SOURCES_API, f"{SOURCES_API}/{seeded.sources['witness']}"]
    found = leaks(crawl(client, seeds), seeded.markers)
    assert not found, report(found)
    assert client.get(f"{SOURCES_API}/{seeded.sources['witness']}").status_code == 404


# -- no side channel -----------------------------------------------------------------------------------------

# What the public reads of counts and totals: the map's summary and data, the timeline, the list, every
# export (header counts and checksums), the API's lists, under filters the new draft would match.
SIDE_FILTERS = [
    "",
    "type=killing",
    "min_killed=1",
    "min_killed=999",
    "date_from=2023-01-01&date_to=2023-01-31",
]
SIDE_VIEWS = [*VIEWS, "/api/v1/incidents"]
TIMESTAMP = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?( UTC|Z)?")


def public_bytes(client: FlaskClient, urls: list[str]) -> dict[str, bytes]:
    """Each answer's body, with the export's own time blanked (the same data exported a second later)."""
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        found[url] = TIMESTAMP.sub(b"<time>", response.get_data())
    return found


def test_a_new_draft_moves_no_public_count_total_or_checksum(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()
    urls = [with_query(view, query) for view, query in itertools.product(SIDE_VIEWS, SIDE_FILTERS)]
    urls += [url for url in map_data_urls(seeded) if "&" not in url.split("zoom=")[1]]
    urls += [SOURCES_API, *(f"/incidents/{seeded.public_ids[record]}" for record in seeded.published)]
    before = public_bytes(client, urls)
    with app.app_context():
        # Where the published ones are, of their types, in their month, with more killed than any.
        draft = _published(
            "2023-01-17",
            "Another draft, with a large figure",
            types=["killing", "curfew"],
            place_name="Juliaca",
            admin1="Huancavelica",
            latitude=-15.51,
            longitude=-70.14,
            confidential_notes="not public",
            citations=[killed(999, 1200, source="A draft-only report")],
            status="draft",
        )
        _save(draft, COMMAND_LINE, to=[])
        db.session.commit()
    after = public_bytes(client, urls)
    changed = [url for url in urls if before[url] != after[url]]
    assert not changed, f"a draft changed what the public reads at {changed}"
    assert export_json(client)["header"]["count"] == len(seeded.published)


def test_searching_or_zooming_on_a_private_value_finds_nothing(app: Flask, seeded: Seeded) -> None:
    client = app.test_client()

    def count(query: str) -> int:
        body = client.get(with_query("/map/data.geojson", f"zoom=14&{query}")).get_json(force=True)
        listed = client.get(with_query("/api/v1/incidents", query)).get_json()["incidents"]
        assert body["count"] == len(listed), query
        return int(body["count"])

    searched = ("-title-", "-narrative-", "-place-")  # what q= looks in
    for text, what in seeded.markers.items():
        if any(name in text for name in searched):
            assert count(f"q={text}") == 0, what
    assert count(f"admin1={marker('draft', 'admin1')}") == 0
    for record in ("sensitive", "rule"):
        assert count(f"bbox={close_round(*seeded.points[record])}") == 0, record
        assert count(f"bbox={close_round(*public_point(app, seeded, record))}") == 1, record


def public_point(app: Flask, seeded: Seeded, record: str) -> tuple[float, float]:
    """Where the policy puts a coarsened incident: the centre of its cell in its grid."""
    grid = RULE_GRID if record == "rule" else app.config.get("LOCATION_GRID_DEGREES", DEFAULT_GRID)
    return snapped(seeded.points[record], grid)


def snapped(point: tuple[float, float], grid: float) -> tuple[float, float]:
    return snap(point[0], grid, -90.0, 90.0), snap(point[1], grid, -180.0, 180.0)


# -- the crawl is not blind ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyOff:
    """One output's policy switched off, and what the crawl must then find: (URL, record, marker name)."""

    switch_off: Callable[[pytest.MonkeyPatch, Flask], None]
    found: list[tuple[str, str, str]]


def _recorded_location_in_records(patch: pytest.MonkeyPatch, app: Flask) -> None:
    """The public's records (API, and the exports' stored records) hold the recorded place and confidential
    sources as staff see them."""
    recorded = {
        "place_name": Incident.place_name,
        "latitude": Incident.latitude,
        "longitude": Incident.longitude,
        "location_precision": sa.type_coerce(Incident.location_precision, sa.String),
    }
    patch.setattr(reader, "_PUBLIC_LOCATION", recorded)
    patch.setattr(serialize, "public_source", lambda source: source)


def _confidential_source_on_pages(patch: pytest.MonkeyPatch, app: Flask) -> None:
    """The pages show a confidential source as staff see it. The public incident page is made from the
    stored public record, which holds no confidential source (exports.public_page): here from the incident's
    own rows, as when no stored record is usable, through a shown_source that withholds nothing."""
    patch.setitem(app.jinja_env.globals, "shown_source", lambda source: source)
    read = public_page.published

    def without_record(public_id: str) -> public_page.PublishedIncident | None:
        found = read(public_id)
        return dataclasses.replace(found, record=None) if found is not None else None

    patch.setattr(public_page, "published", without_record)


def _recorded_location_on_the_map(patch: pytest.MonkeyPatch, app: Flask) -> None:
    """The map's features and the timeline read the recorded location."""
    for module in (map_view, timeline):
        patch.setattr(module, "location_columns", lambda staff: shown.location_columns(staff=True))


POLICIES_OFF = {
    "records: recorded location, confidential sources": PolicyOff(
        _recorded_location_in_records,
        [
            ("/api/v1/incidents/{sensitive}", "sensitive", "latitude"),
            ("/api/v1/incidents?limit=500", "rule", "longitude"),
            ("/export.json", "sensitive", "place"),
            ("/export.geojson", "sensitive", "longitude"),
            ("/export.csv?type=killing", "rule", "latitude"),
            ("/api/v1/incidents/{witness}", "witness", "source-author"),
            ("/export.json?q=protest", "witness", "source-url"),
            ("/export.csv", "witness", "source-title"),
        ],
    ),
    "pages: confidential source": PolicyOff(
        _confidential_source_on_pages,
        [
            ("/incidents/{witness}", "witness", "source-title"),
            ("/incidents/{witness}", "witness", "source-url"),
            ("/incidents/{witness}", "witness", "quote"),
        ],
    ),
    "map and timeline: recorded location": PolicyOff(
        _recorded_location_on_the_map,
        [
            (f"/map/data.geojson?bbox={PERU}&zoom=14", "sensitive", "latitude"),
            (f"/map/data.geojson?bbox={PERU}&zoom=14", "rule", "place"),
            ("/timeline?admin1=Ayacucho", "sensitive", "place"),
        ],
    ),
}


@pytest.mark.parametrize("output", list(POLICIES_OFF))
def test_the_crawl_finds_a_marker_when_one_output_skips_the_policy(
    app: Flask, seeded: Seeded, output: str
) -> None:
    policy_off = POLICIES_OFF[output]
    with pytest.MonkeyPatch.context() as patch:
        policy_off.switch_off(patch, app)
        _rebuild_records(app)
        try:
            found = {(leak.url, leak.marker) for leak in leaks(public_crawl(app, seeded), seeded.markers)}
        finally:
            patch.undo()
            _rebuild_records(app)  # as the policy has them, for the check after the test
    ids = {record: seeded.public_ids[record] for record in seeded.published}
    wanted = {(url.format(**ids), _marker_of(seeded, record, name)) for url, record, name in policy_off.found}
    assert wanted <= found, f"with the policy off for {output}, the crawl missed {wanted - found}"


def _marker_of(seeded: Seeded, record: str, name: str) -> str:
    if name in ("latitude", "longitude"):
        return coordinate_markers(*seeded.points[record])[name == "longitude"]
    return marker(record, name)


def _rebuild_records(app: Flask) -> None:
    with app.app_context():
        stored_records.refresh_all(db.session.connection, db.session.commit)


# -- one coarsened point everywhere --------------------------------------------------------------------------


def public_points(client: FlaskClient, incident_id: str) -> dict[str, tuple[float, float]]:
    """Where each public output puts the incident of this public id (latitude, longitude)."""
    points: dict[str, tuple[float, float]] = {}
    area = client.get(f"/map/data.geojson?bbox={PERU}&zoom=14").get_json(force=True)
    for name, features in (
        ("map", area["features"]),
        ("GeoJSON", _body("/export.geojson", client)["features"]),
    ):
        (feature,) = [f for f in features if f["properties"].get("id") == incident_id]
        longitude, latitude = feature["geometry"]["coordinates"]
        points[name] = (latitude, longitude)
    row = _csv_row(client, incident_id)
    points["CSV"] = (float(row["latitude"]), float(row["longitude"]))
    records = {
        "JSON export": _body("/export.json", client)["incidents"],
        "API list": _body("/api/v1/incidents?limit=500", client)["incidents"],
        "API record": [_body(f"/api/v1/incidents/{incident_id}", client)],
    }
    for name, found in records.items():
        (record,) = [r for r in found if r["id"] == incident_id]
        points[name] = (record["location"]["latitude"], record["location"]["longitude"])
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    for name, pattern in (
        ("page", r"; (-?[\d.]+), (-?[\d.]+)\)"),
        ("page's map link", r"#map=9/(-?[\d.]+)/(-?[\d.]+)"),
    ):
        (shown_at,) = re.findall(pattern, page)
        points[name] = (float(shown_at[0]), float(shown_at[1]))
    return points


def _csv_row(client: FlaskClient, incident_id: str) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(client.get("/export.csv").get_data(as_text=True)))
    (row,) = [row for row in rows if row["id"] == str(incident_id)]
    return row


def _body(url: str, client: FlaskClient) -> Any:
    response = client.get(url)
    assert response.status_code == 200, url
    return json.loads(response.get_data())


# What the public sees of each coarsened incident's place: (place name, location precision).
PUBLIC_PLACE = {"sensitive": ("La Mar", "near"), "rule": ("Aymaraes", "admin2")}


@pytest.mark.parametrize("record", list(PUBLIC_PLACE))
def test_a_coarsened_point_is_the_same_in_every_public_output(
    app: Flask, seeded: Seeded, record: str
) -> None:
    expected = public_point(app, seeded, record)
    assert not set(coordinate_markers(*seeded.points[record])) & set(map(str, expected))
    client = app.test_client()
    incident_id = seeded.public_ids[record]
    points = public_points(client, incident_id)
    assert points == dict.fromkeys(points, expected), f"recorded at {seeded.points[record]}"
    # The place name gives way to the admin-2 region; the precision is what the grid still tells.
    admin2, precision = PUBLIC_PLACE[record]
    location = _body(f"/api/v1/incidents/{incident_id}", client)["location"]
    assert (location["place_name"], location["precision"], location["coarsened"]) == (admin2, precision, True)
    row = _csv_row(client, incident_id)
    assert (row["place_name"], row["location_precision"]) == (admin2, precision)


def test_the_public_export_checksum_is_stable_with_coarsening_on(
    app: Flask, seeded: Seeded, runner: FlaskCliRunner
) -> None:
    client = app.test_client()
    first = export_json(client)
    assert checksum(export_json(client)) == checksum(first) == recomputed_checksum(first)
    latitude, longitude = seeded.points["sensitive"]
    moved = (latitude - 0.03, longitude + 0.03)  # in the same cell: the public sees the same point
    assert snapped(moved, app.config.get("LOCATION_GRID_DEGREES", DEFAULT_GRID)) == public_point(
        app, seeded, "sensitive"
    )
    with app.app_context():
        incident = db.session.get_one(Incident, seeded.published["sensitive"])
        data = incident_input(incident) | {"latitude": moved[0], "longitude": moved[1]}
        update_incident(incident, data, COMMAND_LINE, reason="a more precise point")
        _save(_published("2023-01-19", "A draft elsewhere") | {"status": "draft"}, COMMAND_LINE, to=[])
        db.session.commit()
    assert checksum(export_json(client)) == checksum(first)
    result = runner.invoke(args=["records", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert checksum(export_json(client)) == checksum(first)

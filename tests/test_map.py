"""The map page, its folium-built script, and its GeoJSON data: filters, audiences, precision, scale."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.derived import map_cells, public_locations, stored_records
from incidents.domain.map_grid import CELLS, cell_of
from incidents.domain.sensitivity import DEFAULT_GRID
from incidents.extensions import db
from incidents.models import CasualtyClaim, Citation, Incident, Source
from incidents.queries import map_view
from incidents.schemas.incident import incident_input
from incidents.services.incidents import retract_incident, update_incident
from incidents.web import map_script
from tests.factories import HOSTILE_MARKUP, at_juliaca, killed
from tests.helpers import incident_id, public_id
from tests.helpers import page as incident_page

WORLD = "bbox=-180,-90,180,90&zoom=2"


@pytest.fixture
def incident_defaults() -> dict[str, Any]:
    """The incidents add_incident makes here: at a point in Juliaca, unless a test places them elsewhere."""
    return at_juliaca()


def geojson(client: FlaskClient, query: str = WORLD) -> dict[str, Any]:
    response = client.get("/map/data.geojson?" + query)
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/geo+json"
    body: dict[str, Any] = response.get_json(force=True)
    return body


def titles(body: dict[str, Any]) -> set[str]:
    return {f["properties"]["title"] for f in body["features"] if f["properties"]["kind"] == "incident"}


def test_map_page_shows_the_demo_incidents_with_count_and_totals(client: FlaskClient, demo: None) -> None:
    response = client.get("/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "11 incidents match these filters." in page
    # Totals add the lows and the highs separately (see test_demo for the figures themselves).
    assert re.search(r"Killed</span> \d+–\d+", page)
    assert "Ayacucho: security forces fire on protesters" in page
    assert "Juliaca: police fire on protesters" in page and "Killed 17–18" in page


def test_map_page_loads_scripts_and_styles_only_from_the_app(app: Flask, client: FlaskClient) -> None:
    app.config["TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    page = client.get("/").get_data(as_text=True)
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert "/map.js" in assets and "/static/js/incident-map.js" in assets
    assert "/vendor/leaflet-markercluster/leaflet.markercluster.js" in assets
    for url in assets:
        if url.startswith("data:"):
            continue  # an inline icon, no request
        assert url.startswith("/"), url
        with client.get(url) as response:  # closes the file a static response streams
            assert response.status_code == 200, url
    assert "<script>" not in page and " style=" not in page


def test_map_script_is_built_by_folium_and_names_only_the_tile_server(
    app: Flask, client: FlaskClient
) -> None:
    app.config["TILE_URL"] = "https://tiles.example.org/{z}/{x}/{y}.png"
    app.config["TILE_ATTRIBUTION"] = "© Example tiles"
    response = client.get("/map.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    script = response.get_data(as_text=True)
    for made_by_folium in (
        "var map_incidents = L.map(",
        "L.markerClusterGroup(",
        "L.heatLayer(",
        "L.control.layers(",
    ):
        assert made_by_folium in script
    assert re.findall(r"https?://[^\"' ]+", script) == ["https://tiles.example.org/{z}/{x}/{y}.png"]
    assert "Example tiles" in script


def test_without_a_tile_server_the_map_script_names_no_host(app: Flask, client: FlaskClient) -> None:
    app.config["TILE_URL"] = ""
    script = client.get("/map.js").get_data(as_text=True)
    assert "L.tileLayer" not in script and "http" not in script


def test_a_library_folium_wants_that_the_app_cannot_serve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(map_script, "LOCAL_ASSETS", {"leaflet": ("leaflet", "leaflet.js")})
    map_script.build_map.cache_clear()
    try:
        with pytest.raises(map_script.UnservedAsset, match="which the app does not serve itself"):
            map_script.build_map("", "")
    finally:
        monkeypatch.undo()
        map_script.build_map.cache_clear()


def test_features_carry_what_a_popup_shows(app: Flask, client: FlaskClient, demo: None) -> None:
    body = geojson(client)
    assert body["count"] == 11 and not body["aggregated"]
    juliaca = next(f for f in body["features"] if f["properties"]["title"].startswith("Juliaca"))
    p = juliaca["properties"]
    assert juliaca["geometry"]["coordinates"] == [-70.13333, -15.5]
    assert juliaca["id"] == public_id(app, incident_id(app, "Juliaca"))
    assert p["url"] == incident_page(app, incident_id(app, "Juliaca"))
    assert p["date_label"] == "9 January 2023" and p["date_precision_label"] == "exact day"
    assert p["location_precision"] == "near" and p["uncertainty_m"] == 25_000
    assert "within about 25 km" in p["precision_note"]
    assert {"category": "killed", "label": "killed", "low": 17, "high": 18} in p["casualties"]
    assert p["verification_grade"] == "fair" and p["source_count"] >= 5
    assert p["primary_type"] == "killing" and p["colour"].startswith("#")
    puno = next(f for f in body["features"] if f["properties"]["title"].startswith("Three-day night curfew"))
    assert "admin-1 region (Puno)" in puno["properties"]["precision_note"]
    assert puno["properties"]["uncertainty_m"] == 150_000
    assert "not as a precise point" in puno["properties"]["precision_note"]
    assert puno["properties"]["date_label"] == "10–13 January 2023"


def test_filters_narrow_the_map_and_live_in_the_url(client: FlaskClient, demo: None) -> None:
    assert len(titles(geojson(client, WORLD + "&type=killing"))) == 4
    assert titles(geojson(client, WORLD + "&type=killing&admin1=puno")) == {
        "Juliaca: police fire on protesters near the airport"
    }
    january = titles(geojson(client, WORLD + "&date_from=2023-01-01&date_to=2023-01-31"))
    assert "Juliaca: police fire on protesters near the airport" in january
    assert not any(t.startswith("Ayacucho") for t in january)
    # At least N killed according to at least one source: Juliaca's sources say 17 and 18.
    assert titles(geojson(client, WORLD + "&min_killed=18")) == {
        "Juliaca: police fire on protesters near the airport"
    }
    assert titles(geojson(client, WORLD + "&min_killed=19")) == set()
    assert len(titles(geojson(client, WORLD + "&perpetrator=POLICE"))) >= 1
    assert titles(geojson(client, WORLD + "&perpetrator=nobody-such")) == set()
    page = client.get("/?type=killing&admin1=Puno").get_data(as_text=True)
    assert "1 incident matches these filters." in page
    assert 'data-filter-query="type=killing&amp;admin1=Puno"' in page


def test_grade_filter_is_repeatable(client: FlaskClient, add_incident: Callable[..., int]) -> None:
    add_incident("Confirmed one", verification_grade="confirmed")
    add_incident("Weak one", verification_grade="weak")
    add_incident("Fair one", verification_grade="fair")
    assert titles(geojson(client, WORLD + "&grade=confirmed&grade=weak")) == {"Confirmed one", "Weak one"}


def test_bbox_and_the_antimeridian(client: FlaskClient, add_incident: Callable[..., int]) -> None:
    add_incident("Lima", latitude=-12.05, longitude=-77.03)
    add_incident("Suva", country="FJ", latitude=-18.14, longitude=178.44)
    add_incident("Apia", country="WS", latitude=-13.83, longitude=-171.76)
    assert titles(geojson(client, "bbox=-78,-13,-76,-11&zoom=9")) == {"Lima"}
    assert titles(geojson(client, "bbox=170,-25,-165,-5&zoom=5")) == {"Suva", "Apia"}
    # bbox works as a filter everywhere else too (the list, exports)
    listing = client.get("/incidents/?bbox=170,-25,-165,-5").get_data(as_text=True)
    assert "2 incidents" in listing


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=-200,-10,10,10", "bbox"),
        ("bbox=0,10,10,-10", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("bbox=0,0,nan,1", "bbox"),
        ("zoom=99", "zoom"),
        ("zoom=x", "zoom"),
        ("grade=certain", "grade"),
        ("min_killed=-1", "min_killed"),
        ("min_killed=1.5", "min_killed"),
        ("date_from=2023-02-30", "date_from"),
        ("country=Peru", "country"),
        ("date_from=2023-02-01&date_to=2023-01-01", "date_to"),
    ],
)
def test_bad_map_requests_get_400_naming_the_parameter(
    client: FlaskClient, query: str, parameter: str
) -> None:
    response = client.get("/map/data.geojson?" + query)
    assert response.status_code == 400
    body = response.get_json()
    assert parameter in body["errors"], body
    page = client.get("/?" + query)
    if parameter != "zoom":  # zoom is the map's, not a filter
        assert page.status_code == 400
        assert f"<code>{parameter}</code>" in page.get_data(as_text=True)
    assert client.get("/timeline?" + query).status_code in ((200,) if parameter == "zoom" else (400,))


def test_public_map_never_carries_unpublished_incidents_or_confidential_notes(
    app: Flask, client: FlaskClient, editor_client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    add_incident("Published one", confidential_notes="witness lives at the corner")
    add_incident("Draft one", status="draft")
    add_incident("Retracted one", status="retracted")
    public = app.test_client()
    body = geojson(public)
    assert titles(body) == {"Published one"} and body["count"] == 1
    assert "witness" not in json.dumps(body)
    assert titles(geojson(public, WORLD + "&status=draft")) == {"Published one"}
    page = public.get("/").get_data(as_text=True)
    assert "1 incident matches" in page and "Draft one" not in page
    assert "Draft one" not in public.get("/timeline").get_data(as_text=True)
    # Staff see everything, or one status.
    assert titles(geojson(editor_client)) == {"Published one", "Draft one", "Retracted one"}
    assert titles(geojson(editor_client, WORLD + "&status=draft")) == {"Draft one"}
    assert "witness" not in json.dumps(geojson(editor_client))


def test_many_incidents_are_counted_per_area_with_casualty_sums(
    client: FlaskClient, add_incident: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(map_view, "FEATURE_LIMIT", 3)
    add_incident("Lima 1", latitude=-12.05, longitude=-77.03, citations=[killed(1, 2)])
    add_incident("Lima 2", latitude=-12.06, longitude=-77.04, citations=[killed(3)])
    add_incident("Juliaca 1", citations=[killed(17, 18)])
    add_incident("Juliaca 2", types=["curfew"])
    add_incident("Paris", country="FR", latitude=48.85, longitude=2.35, types=["curfew"])
    for query in (WORLD, WORLD + "&type=killing&type=curfew"):  # from the rollup, and computed
        body = geojson(client, query)
        assert body["aggregated"] and body["count"] == 5
        clusters = [f["properties"] for f in body["features"]]
        assert all(c["kind"] == "cluster" for c in clusters)
        assert sum(c["count"] for c in clusters) == 5
        killed_totals = [r for c in clusters for r in c["casualties"] if r["category"] == "killed"]
        assert sum(r["low"] for r in killed_totals) == 21 and sum(r["high"] for r in killed_totals) == 23
        assert {"category": "killed", "label": "killed", "low": 21, "high": 23} in body["casualties"]
        assert 2 <= len(clusters) <= 5
    # Zoomed in to Lima, the two incidents there come one by one.
    assert titles(geojson(client, "bbox=-77.2,-12.2,-76.9,-11.9&zoom=11")) == {"Lima 1", "Lima 2"}


def test_no_answer_holds_more_than_two_thousand_features(client: FlaskClient) -> None:
    """The aggregation level keeps any area under about 1,700 cells, whatever zoom the client claims."""
    for bbox, zoom in (
        ("-180,-90,180,90", 22),
        ("-180,-85,180,85", 3),
        ("-10,-10,10,10", 18),
        ("0,0,0.001,60", 22),
    ):
        box = map_view.BoundingBox(*(float(v) for v in bbox.split(",")))
        level = map_view.aggregation_level(box, zoom)
        size = 360 / 2**level
        cells = (box.width / size + 2) * (box.height / size + 2)
        assert cells <= 2000, (bbox, zoom, level, cells)


def _rollup(app: Flask) -> list[tuple[Any, ...]]:
    with app.app_context():
        rows = db.session.execute(sa.select(CELLS).order_by(*CELLS.primary_key.columns)).all()
        return [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]


def test_rollup_follows_every_save_and_equals_a_rebuild(
    app: Flask, runner: FlaskCliRunner, add_incident: Callable[..., int]
) -> None:
    first = add_incident("Lima", latitude=-12.05, longitude=-77.03, citations=[killed(2, 4)])
    add_incident("Nowhere known", latitude=None, longitude=None, location_precision="country")
    add_incident("Draft", status="draft", latitude=10.0, longitude=10.0)
    with app.app_context():
        incident = db.session.get(Incident, first)
        assert incident is not None
        data = incident_input(incident)
        data.update(latitude=48.85, longitude=2.35, country="FR")
        data["citations"] = [killed(5, 9)]
        update_incident(incident, data, COMMAND_LINE, reason="a correction")
        retract_incident(incident, COMMAND_LINE, reason="a rumour", version=incident.version)
        db.session.commit()
    maintained = _rollup(app)
    assert maintained
    result = runner.invoke(args=["map-cells"])
    assert result.exit_code == 0 and "Rebuilt" in result.output
    assert _rollup(app) == maintained
    with app.app_context():
        cell = cell_of(48.85, 2.35, 12)
        row = db.session.execute(
            sa.select(CELLS).where(CELLS.c.level == 12, CELLS.c.cell_x == cell[0], CELLS.c.cell_y == cell[1])
        ).one()
        assert (row.status.value, row.incident_count, row.killed_low, row.killed_high) == (
            "retracted",
            1,
            5,
            9,
        )
        with db.engine.begin() as connection:
            assert map_cells.rebuild(connection) == len(maintained)


def test_timeline_lists_by_month_with_chart_linking_to_the_map(client: FlaskClient, demo: None) -> None:
    response = client.get("/timeline?type=curfew")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h2>December 2022</h2>" in page and "<h2>January 2023</h2>" in page
    assert "Five-day night curfew in Huamanga province" in page and "Juliaca" not in page
    assert '<svg class="timeline-chart"' in page
    # Each week links to the map narrowed to it, keeping the other filters.
    assert 'href="/?type=curfew&amp;date_from=2023-01-09&amp;date_to=2023-01-15"' in page
    assert page.index("December 2022") < page.index("January 2023")


def test_timeline_draws_spans_and_month_precision_as_the_whole_month(
    client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    add_incident("A day", start_date="2023-01-09")
    add_incident("A curfew", start_date="2023-01-10", end_date="2023-01-20", date_precision="span")
    add_incident("Some time in February", start_date="2023-02-01", date_precision="month")
    page = client.get("/timeline").get_data(as_text=True)

    def width(title: str) -> float:
        match = re.search(
            r"<title>" + re.escape(title) + r"[^<]*</title>\s*<rect [^>]*width=\"([\d.]+)\"", page
        )
        assert match, title
        return float(match.group(1))

    day, curfew, month = width("A day"), width("A curfew"), width("Some time in February")
    assert curfew == pytest.approx(day * 11, rel=0.05)
    assert month == pytest.approx(day * 28, rel=0.05)
    assert re.search(r"February 2023 <span class=\"muted\">\(known month\)", page)  # the list says so too
    assert "Known only to the month: February 2023" in page  # and the chart's band


def test_hostile_text_is_data_in_geojson_and_escaped_in_pages(
    app: Flask, client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    hostile = add_incident(
        HOSTILE_MARKUP,
        place_name=HOSTILE_MARKUP,
        admin1=HOSTILE_MARKUP[:100],
        citations=[killed(1, source=HOSTILE_MARKUP)],
    )
    body = geojson(client)
    assert body["features"][0]["properties"]["title"] == HOSTILE_MARKUP
    for url in ("/", "/timeline", incident_page(app, hostile)):
        html = client.get(url).get_data(as_text=True)
        assert "<img src=x" not in html and "<script>alert" not in html, url
        assert "&lt;img src=x onerror=alert(1)&gt;" in html, url


def test_incident_page_has_citation_line_permalink_and_claims_with_sources(
    app: Flask, client: FlaskClient, demo: None
) -> None:
    juliaca = public_id(app, incident_id(app, "Juliaca"))
    page = client.get(f"/incidents/{juliaca}").get_data(as_text=True)
    assert "Cite this incident" in page
    assert f"http://localhost/incidents/{juliaca}" in page and 'rel="bookmark"' in page
    assert "“Juliaca: police fire on protesters near the airport”, 9 January 2023" in page
    assert re.search(r'17 according to <a href="#source-1">\[1\]</a>', page)
    assert 'id="source-1"' in page
    assert "Confidential notes" not in page
    app.config["PUBLIC_BASE_URL"] = "https://incidents.example.org/"
    page = client.get(f"/incidents/{juliaca}").get_data(as_text=True)
    assert f"https://incidents.example.org/incidents/{juliaca}" in page


def test_map_and_timeline_are_public_and_carry_the_csp(client: FlaskClient) -> None:
    for url in ("/", "/timeline", "/map.js", "/map/data.geojson"):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "unsafe-inline" not in csp


def test_bulk_inserted_incidents_are_counted_with_add_rows(app: Flask) -> None:
    row = {
        "title": "Bulk",
        "narrative": "",
        "start_date": dt.date(2023, 1, 9),
        "date_precision": "day",
        "place_name": "",
        "admin1": "",
        "admin2": "",
        "country": "PE",
        "latitude": -12.05,
        "longitude": -77.03,
        "location_precision": "exact",
        "perpetrators": "",
        "victims": "",
        "verification_grade": "fair",
        "status": "published",
        "confidential_notes": "",
        "killed_low": 2,
        "killed_high": 3,
        "source_count": 1,
        "version": 1,
        "location_sensitive": False,
    }
    # The public location, as the bulk writer computes it beside the range columns.
    row |= public_locations.computed_one(row, (), (), public_locations.Rules(), DEFAULT_GRID)
    with app.app_context(), db.engine.begin() as connection:
        incident_id = connection.execute(sa.insert(Incident).returning(Incident.id), [row]).scalar_one()
        # The claim the range columns come from, as the bulk writer inserts it beside the incident.
        source_id = connection.execute(
            sa.insert(Source).returning(Source.id),
            [{"title": "A report", "kind": "press", "reliability": "C"}],
        ).scalar_one()
        citation_id = connection.execute(
            sa.insert(Citation).returning(Citation.id),
            [{"incident_id": incident_id, "source_id": source_id, "position": 0, "locator": "", "quote": ""}],
        ).scalar_one()
        connection.execute(
            sa.insert(CasualtyClaim),
            [{"citation_id": citation_id, "category": "killed", "low": 2, "high": 3}],
        )
        map_cells.add_rows(connection, [row])
        # Rows written around the ORM need their stored records too (derived.stored_records).
        stored_records.refresh(connection, [incident_id])
    counted = _rollup(app)
    with app.app_context(), db.engine.begin() as connection:
        map_cells.rebuild(connection)
    assert _rollup(app) == counted and counted

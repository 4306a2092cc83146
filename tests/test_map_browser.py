"""The map and timeline in headless Chromium: markers, filters, the slider, hostile text, no outside request.

Runs against a live server on 127.0.0.1 (werkzeug, in a thread) on the test's database. Tiles come from a
configured tile server that the browser never reaches: Playwright answers those requests itself.
"""

from __future__ import annotations

import csv
import io
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect
from werkzeug.serving import make_server

from tests.factories import HOSTILE_MARKUP, at_juliaca, killed
from tests.helpers import page as incident_page

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TILE_SERVER = "https://tiles.example.test/"
# A 1×1 transparent PNG, the answer to every tile request.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360000002"
    "000154a24f5d0000000049454e44ae426082"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium; CI sets CHROMIUM_PATH)",
    ),
]


@pytest.fixture
def incident_defaults() -> dict[str, Any]:
    """The incidents add_incident makes here: at a point in Juliaca, unless a test places them elsewhere."""
    return at_juliaca()


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    app.config["TILE_URL"] = TILE_SERVER + "{z}/{x}/{y}.png"
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@dataclass
class Browsing:
    page: Page
    base: str
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith((self.base + "/", TILE_SERVER))]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for this module's tests: a launch costs a second or more. Each test browses in a context
    of its own (browsing, below): a new profile, with no cookie, storage or cache of another test's."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browsing(live_server: str, browser: Browser) -> Iterator[Browsing]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    seen = Browsing(page, live_server)
    page.on("request", lambda request: seen.requests.append(request.url))
    page.on("dialog", lambda dialog: (seen.dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.route(
        TILE_SERVER + "**", lambda route: route.fulfill(status=200, content_type="image/png", body=PNG)
    )
    try:
        yield seen
    finally:
        context.close()
    assert seen.outside_requests() == []
    assert seen.dialogs == []
    assert seen.errors == []


def _map_loaded(page: Page) -> str:
    page.wait_for_selector("[data-incident-map][data-loaded]", timeout=15000)
    return page.inner_text("#in-view")


def test_map_shows_the_demo_markers_and_a_filter_changes_the_count(browsing: Browsing, demo: None) -> None:
    page = browsing.page
    page.goto(browsing.base + "/")
    assert _map_loaded(page).startswith("11 incidents in this view")
    markers = page.locator("path.leaflet-interactive, .marker-cluster")
    assert markers.count() >= 3
    assert "Killed" in page.inner_text("#in-view-totals")
    assert any(u.startswith(TILE_SERVER) for u in browsing.requests), "tiles come from the configured server"

    # The heat map is a layer to toggle.
    page.get_by_label("Heat map").check()
    page.wait_for_selector("canvas.leaflet-heatmap-layer")

    # The time slider plays one week at a time: the week of the Juliaca killings.
    page.locator("#time-step").evaluate(
        "(input) => { input.value = '5'; input.dispatchEvent(new Event('input')); }"
    )
    # (expect polls through selectors: wait_for_function would eval a string, which the CSP forbids)
    expect(page.locator("#in-view")).to_contain_text("week of 9 January 2023")
    assert not _map_loaded(page).startswith("11 incidents")

    # A filter: only killings.
    page.get_by_label("killing", exact=True).check()
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**/?*type=killing*")
    assert page.inner_text("#filter-count").startswith("4 incidents match")
    expect(page.locator("#in-view")).to_have_text(re.compile(r"^4 incidents in this view"))


def test_hostile_text_is_shown_as_text_on_the_map_popup_and_timeline(
    app: Flask, browsing: Browsing, add_incident: Callable[..., int]
) -> None:
    incident = add_incident(
        HOSTILE_MARKUP,
        place_name=HOSTILE_MARKUP,
        admin1="Puno `${alert(1)}`",
        latitude=-12.05,
        longitude=-77.03,
        citations=[killed(3, 4, source=HOSTILE_MARKUP)],
    )
    page = browsing.page
    page.goto(browsing.base + "/")
    assert _map_loaded(page).startswith("1 incident in this view")
    page.locator("path.leaflet-interactive").first.hover()
    tooltip = page.wait_for_selector(".leaflet-tooltip")
    assert HOSTILE_MARKUP in tooltip.inner_text()
    page.locator("path.leaflet-interactive").first.click()
    popup = page.wait_for_selector(".leaflet-popup-content")
    text = popup.inner_text()
    assert text.count(HOSTILE_MARKUP) >= 2  # the title and the place
    assert "Killed: 3–4" in text and "1 source" in text
    assert popup.query_selector("img") is None and popup.query_selector("script") is None
    # The popup links to the incident's page by its public id.
    more = popup.query_selector("a.more")
    assert more is not None and more.get_attribute("href") == incident_page(app, incident)

    page.goto(browsing.base + "/timeline")
    assert HOSTILE_MARKUP in page.inner_text("main")
    assert page.locator("main img").count() == 0

    page.goto(browsing.base + incident_page(app, incident))
    assert page.inner_text("main").count(HOSTILE_MARKUP) >= 3  # title, place, source
    page.wait_for_timeout(300)  # give any injected handler its chance to fire


def test_export_links_give_exactly_the_incidents_shown(browsing: Browsing, demo: None) -> None:
    page = browsing.page
    page.goto(browsing.base + "/?type=killing")
    shown = int(_map_loaded(page).split(" ")[0])
    assert shown == 4
    selected = page.locator("#export-links a").first.get_attribute("href")
    in_view = page.locator("#in-view-export a").first.get_attribute("href")
    assert selected is not None and in_view is not None and "bbox=" in in_view
    for href in (selected, in_view):
        exported = page.request.get(browsing.base + href).json()
        assert exported["header"]["count"] == shown
        assert all(any(t["slug"] == "killing" for t in i["types"]) for i in exported["incidents"])

    # After the slider narrows the map to one week, the in-view export follows it.
    page.locator("#time-step").evaluate(
        "(input) => { input.value = '5'; input.dispatchEvent(new Event('input')); }"
    )
    expect(page.locator("#in-view")).to_contain_text("week of 9 January 2023")
    now_shown = int(page.inner_text("#in-view").split(" ")[0])
    href = page.locator("#in-view-export a", has_text="CSV").get_attribute("href")
    assert href is not None and "date_from=" in href
    rows = list(csv.DictReader(io.StringIO(page.request.get(browsing.base + href).text())))
    assert len(rows) == now_shown
    assert [row["title"] for row in rows] == ["Juliaca: police fire on protesters near the airport"]


@pytest.mark.app_config({"MAP_DATA_RATE_LIMIT": "1 per minute"})
def test_the_map_says_why_when_its_data_is_refused(browsing: Browsing, demo: None) -> None:
    """Past MAP_DATA_RATE_LIMIT the map shows the 429 problem's words where it counts what is in view."""
    page = browsing.page
    page.goto(browsing.base + "/")
    page.locator("#time-step").evaluate(  # a move of the slider asks for the map's data again
        "(input) => { input.value = '5'; input.dispatchEvent(new Event('input')); }"
    )
    expect(page.locator("#in-view")).to_have_text(
        "Too many requests for the map's data from your address in a short time."
    )
    # The refused request is in the console, as every failed request is: the only error there.
    assert browsing.errors and all("429" in error for error in browsing.errors)
    browsing.errors.clear()

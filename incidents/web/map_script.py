"""The map, built by folium and served without a CDN or an inline script.

folium builds the Leaflet map: the map with its options, the tile layer and its attribution, the
MarkerCluster plugin for incidents, the HeatMap plugin and the layer control. We take two things from it:
the script it generates (served as /map.js, so the strict Content-Security-Policy holds), and the list of
JavaScript and CSS libraries its elements declare, each replaced by the copy an installed package ships
(incidents.vendor). A library folium asks for that we cannot serve locally stops the app at the first map
request, rather than letting a page reach for a CDN. Incident data never passes through folium: the page's
own script (static/js/incident-map.js) fetches GeoJSON and builds popups with DOM text nodes, because
folium's popups and tooltips do not escape user text safely (SECURITY.md, check 12).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import folium
from branca.element import Element
from folium.plugins import HeatMap, MarkerCluster

# folium's resource name -> (vendor package, file) served by the app from an installed package.
LOCAL_ASSETS: dict[str, tuple[str, str]] = {
    "leaflet": ("leaflet", "leaflet.js"),
    "leaflet_css": ("leaflet", "leaflet.css"),
    "markerclusterjs": ("leaflet-markercluster", "leaflet.markercluster.js"),
    "markerclustercss": ("leaflet-markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("leaflet-markercluster", "MarkerCluster.Default.css"),
    "leaflet-heat.js": ("leaflet-heat", "leaflet_heat.min.js"),
}
# What folium's Map loads by default for its own icons and popups (jQuery, Bootstrap, Font Awesome,
# awesome-markers): this map uses none of them, so they are left out rather than served.
UNUSED_ASSETS = frozenset(
    {
        "jquery",
        "bootstrap",
        "awesome_markers",
        "bootstrap_css",
        "glyphicons_css",
        "awesome_markers_font_css",
        "awesome_markers_css",
        "awesome_rotate_css",
    }
)


class UnservedAsset(RuntimeError):
    """folium asks for a library the app does not serve itself."""


@dataclass(frozen=True)
class IncidentMap:
    """What a page needs to show the folium-built map."""

    script: str
    scripts: tuple[tuple[str, str], ...]
    stylesheets: tuple[tuple[str, str], ...]
    element_id: str
    # Names of the JavaScript globals folium declares, for static/js/incident-map.js to fill.
    map_name: str
    incidents_name: str
    cluster_name: str
    counts_name: str
    heat_name: str


def _elements(root: Element) -> Iterator[Element]:
    yield root
    for child in root._children.values():
        yield from _elements(child)


def _local(resources: list[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for name, url in resources:
        if name in UNUSED_ASSETS:
            continue
        if name not in LOCAL_ASSETS:
            raise UnservedAsset(f"folium asks for {name} ({url}), which the app does not serve itself")
        yield LOCAL_ASSETS[name]


@functools.lru_cache(maxsize=8)
def build_map(tile_url: str, attribution: str) -> IncidentMap:
    """Build the map with folium for this tile server (none when tile_url is empty)."""
    m = folium.Map(
        location=[0, 0],
        zoom_start=2,
        tiles=None,
        control_scale=True,
        # On the map itself, not only on its tile layer: with no tiles configured, MarkerCluster needs it.
        minZoom=1,
        maxZoom=19,
        world_copy_jump=True,
    )
    m._id = "incidents"  # stable names, so /map.js is the same on every request
    if tile_url:
        tiles = folium.TileLayer(tiles=tile_url, attr=attribution, name="Background map", max_zoom=19)
        tiles._id = "background"
        tiles.add_to(m)
    incidents = folium.FeatureGroup(name="Incidents")
    incidents._id = "incidents"
    incidents.add_to(m)
    cluster = MarkerCluster(
        control=False,
        options={"showCoverageOnHover": False, "maxClusterRadius": 45, "chunkedLoading": True},
    )
    cluster._id = "incidents"
    cluster.add_to(incidents)
    # Where the server counts instead of sending incidents one by one (many in view), counts go here.
    counts = folium.FeatureGroup(control=False)
    counts._id = "counts"
    counts.add_to(incidents)
    heat = HeatMap([], name="Heat map", show=False, radius=22, blur=18, min_opacity=0.35)
    heat._id = "incidents"
    heat.add_to(m)
    control = folium.LayerControl(collapsed=False)
    control._id = "incidents"
    control.add_to(m)

    figure = m.get_root()
    figure.render()
    scripts: list[tuple[str, str]] = []
    stylesheets: list[tuple[str, str]] = []
    for element in _elements(figure):
        for asset in _local(list(getattr(element, "default_js", []))):
            if asset not in scripts:
                scripts.append(asset)
        for asset in _local(list(getattr(element, "default_css", []))):
            if asset not in stylesheets:
                stylesheets.append(asset)
    return IncidentMap(
        script=figure.script.render(),  # type: ignore[attr-defined]
        scripts=tuple(scripts),
        stylesheets=tuple(stylesheets),
        element_id=m.get_name(),
        map_name=m.get_name(),
        incidents_name=incidents.get_name(),
        cluster_name=cluster.get_name(),
        counts_name=counts.get_name(),
        heat_name=heat.get_name(),
    )

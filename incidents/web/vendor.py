"""Front-end libraries served by the app from their installed Python packages: no CDN, nothing committed."""

from __future__ import annotations

from flask import Flask, abort, send_from_directory
from werkzeug.wrappers import Response

# package name in URLs -> the xstatic module that ships it
PACKAGES = {
    "leaflet": "xstatic.pkg.leaflet",
    "leaflet-markercluster": "xstatic.pkg.leaflet_markercluster",
    # folium ships the Leaflet.heat plugin it uses in its own package: module:folder inside it.
    "leaflet-heat": "folium:templates",
}


def _directory(spec: str) -> str:
    import importlib
    import importlib.util
    from pathlib import Path

    module_name, _, folder = spec.partition(":")
    if not folder:
        return str(importlib.import_module(module_name).BASE_DIR)
    # Found without being imported: importing folium would load numpy into every process of the app.
    found = importlib.util.find_spec(module_name)
    if found is None or not found.submodule_search_locations:
        raise RuntimeError(f"the package {module_name} is not installed")
    return str(Path(next(iter(found.submodule_search_locations))) / folder)


def init_app(app: Flask) -> None:
    directories = {name: _directory(spec) for name, spec in PACKAGES.items()}

    @app.get("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str) -> Response:
        directory = directories.get(package)
        if directory is None:
            abort(404)
        return send_from_directory(directory, filename, max_age=86400)

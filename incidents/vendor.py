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
    from pathlib import Path

    module_name, _, folder = spec.partition(":")
    module = importlib.import_module(module_name)
    if not folder:
        return str(module.BASE_DIR)
    return str(Path(str(module.__file__)).parent / folder)


def init_app(app: Flask) -> None:
    directories = {name: _directory(spec) for name, spec in PACKAGES.items()}

    @app.get("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str) -> Response:
        directory = directories.get(package)
        if directory is None:
            abort(404)
        return send_from_directory(directory, filename, max_age=86400)

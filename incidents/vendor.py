"""Front-end libraries served by the app from their installed Python packages: no CDN, nothing committed."""

from __future__ import annotations

from flask import Flask, abort, send_from_directory
from werkzeug.wrappers import Response

# package name in URLs -> the xstatic module that ships it
PACKAGES = {
    "leaflet": "xstatic.pkg.leaflet",
}


def init_app(app: Flask) -> None:
    import importlib

    directories = {name: importlib.import_module(module).BASE_DIR for name, module in PACKAGES.items()}

    @app.get("/vendor/<package>/<path:filename>")
    def vendor(package: str, filename: str) -> Response:
        directory = directories.get(package)
        if directory is None:
            abort(404)
        return send_from_directory(directory, filename, max_age=86400)

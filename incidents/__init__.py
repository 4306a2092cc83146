"""incidents: a documentation database for human-rights incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from incidents import config
from incidents.extensions import csrf, db, limiter, login_manager, migrate

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """The application factory: the only way an app exists."""
    app = Flask(
        __name__,
        instance_path=str(PROJECT_ROOT / "instance"),
        instance_relative_config=True,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    config.load(app, test_config)
    from incidents.routing import RecordIdConverter

    app.url_map.converters["id"] = RecordIdConverter

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    _configure_sqlite(app)

    from incidents import cli, security, templating, vendor
    from incidents.admin import views as admin_views
    from incidents.auth import views as auth_views
    from incidents.researcher import views as researcher_views

    security.init_app(app)
    templating.init_app(app)
    vendor.init_app(app)
    cli.init_app(app)
    app.register_blueprint(auth_views.blueprint)
    app.register_blueprint(researcher_views.blueprint)
    app.register_blueprint(admin_views.blueprint)
    from incidents import api, exports

    api.init_app(app)
    exports.init_app(app)
    from incidents import maps, timeline

    maps.init_app(app)  # the map at / (endpoint "index"), /map.js, /map/data.geojson
    timeline.init_app(app)
    from incidents import importing
    from incidents.duplicates import views as duplicates_views

    importing.init_app(app)  # /import and `flask import`
    duplicates_views.init_app(app)

    return app


def _configure_sqlite(app: Flask) -> None:
    """WAL, a busy timeout and enforced foreign keys on every SQLite connection."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine = db.engine

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    sa.event.listen(engine, "connect", on_connect)

"""Helpers for the import tests: the fixture files, running `flask import`, and counting what was written."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.extensions import db
from incidents.models import (
    CasualtyClaim,
    CasualtyEstimate,
    Citation,
    DuplicateFlag,
    Incident,
    MapCell,
    Source,
    incident_type_links,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "import"
UCDP_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucdp_ged_bangladesh_sample.csv"


def run_import(runner: FlaskCliRunner, path: Path | str, *options: str) -> Result:
    return runner.invoke(args=["import", str(path), *options])


def counts(app: Flask) -> dict[str, int]:
    """Rows in every table an import writes to."""
    with app.app_context():
        return {
            name: db.session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for name, table in (
                ("incidents", Incident),
                ("sources", Source),
                ("citations", Citation),
                ("claims", CasualtyClaim),
                ("estimates", CasualtyEstimate),
                ("type_links", incident_type_links),
                ("flags", DuplicateFlag),
                ("map_cells", MapCell),
            )
        }


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def incident(app: Flask, external_id: str) -> Incident:
    """The imported incident of this external id, with its citations loaded (detached from the session)."""
    with app.app_context():
        found = db.session.scalars(sa.select(Incident).where(Incident.external_id == external_id)).one()
        for citation in found.citations:
            _ = citation.source, citation.claims
        _ = found.types, found.estimates
        db.session.expunge_all()
        return found

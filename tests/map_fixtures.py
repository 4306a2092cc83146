"""Fixtures for the map and timeline tests: incidents made through the same service the forms use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.extensions import db
from incidents.models import Incident
from incidents.services.incidents import create_incident

HOSTILE = "<img src=x onerror=alert(1)> ${alert(1)} `tick` </script><script>alert(2)</script>"


@pytest.fixture
def add_incident(app: Flask) -> Callable[..., int]:
    """Add an incident through services.incidents.create_incident; keyword arguments override the defaults."""

    def add(title: str, **fields: Any) -> int:
        data: dict[str, Any] = {
            "title": title,
            "types": ["killing"],
            "start_date": "2023-01-09",
            "date_precision": "day",
            "place_name": "Juliaca",
            "admin1": "Puno",
            "country": "PE",
            "latitude": -15.5,
            "longitude": -70.13,
            "location_precision": "exact",
            "verification_grade": "fair",
            "status": "published",
        }
        data.update(fields)
        with app.app_context():
            incident = create_incident(data, None).incident
            db.session.commit()
            return incident.id

    return add


def killed(low: int, high: int | None = None, source: str = "A report") -> dict[str, Any]:
    """A citation of a new source claiming low (to high) killed."""
    claim: dict[str, Any] = {"category": "killed", "low": low}
    if high is not None:
        claim["high"] = high
    return {"source": {"title": source, "kind": "press"}, "claims": [claim]}


@pytest.fixture
def demo(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["load-demo"])
    assert result.exit_code == 0, result.output


def incident_id(app: Flask, title_start: str) -> int:
    with app.app_context():
        return db.session.scalars(sa.select(Incident.id).where(Incident.title.startswith(title_start))).one()

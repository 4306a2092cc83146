"""Incidents for the export and API tests: hostile text, a draft with a confidential marker."""

from __future__ import annotations

from typing import Any

from flask import Flask

from incidents.extensions import db
from incidents.services.incidents import create_incident

MARKER = "CONFIDENTIAL-MARKER-7f3a"
DRAFT_TITLE = "Draft: unverified raid in Ilave"
HOSTILE = "=cmd|' /C calc'!A0 <img src=x onerror=alert(1)> `whoami` ${alert(1)} </script>"


def add_incident(app: Flask, title: str, **fields: Any) -> int:
    data: dict[str, Any] = {
        "title": title,
        "types": ["killing"],
        "start_date": "2023-01-09",
        "date_precision": "day",
        "country": "PE",
        "admin1": "Puno",
        "place_name": "Juliaca",
        "latitude": -15.4997,
        "longitude": -70.1333,
        "location_precision": "near",
        "verification_grade": "fair",
        "status": "published",
        "citations": [
            {
                "source": {"title": "Witness statement kept by the team", "kind": "witness_testimony"},
                "claims": [{"category": "killed", "low": 2, "high": 3}],
            }
        ],
    }
    data.update(fields)
    with app.app_context():
        incident = create_incident(data, None).incident
        db.session.commit()
        return incident.id


def add_hostile_and_draft(app: Flask) -> tuple[int, int]:
    """A published incident whose text is hostile (and whose notes are confidential), and a draft."""
    hostile = add_incident(
        app,
        HOSTILE,
        narrative=HOSTILE,
        perpetrators="-1+1 @SUM(A1)",
        confidential_notes=f"{MARKER} witness phone number",
    )
    draft = add_incident(
        app,
        DRAFT_TITLE,
        status="draft",
        confidential_notes=f"{MARKER} source is a police officer",
        citations=[
            {
                "source": {"title": f"Draft-only source {MARKER}", "kind": "witness_testimony"},
                "claims": [{"category": "detained", "low": 4}],
            }
        ],
    )
    return hostile, draft

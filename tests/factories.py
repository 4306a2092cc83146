"""Test data, made the way the application makes it: accounts, incidents, the entry form, the demo.

Shared by the test modules (as CTFd's tests/helpers.py is): each factory gives what most tests want and takes
keyword arguments for what a test varies. A test module imports from here, from tests/helpers.py, and from no
other test module (tests/test_suite_layout.py checks it).
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.domain.duplicates import open_flags
from incidents.extensions import db
from incidents.models import Incident, User
from incidents.services.accounts import create_user as create_account
from incidents.services.duplicates import confirm_distinct
from incidents.services.incidents import create_incident
from incidents.services.tokens import create_token
from incidents.services.workflow import INITIAL, transition
from incidents.vocabulary import PublicationStatus, Role

PASSWORD = "correct horse battery staple"

# What an app needs to start in production (over the tests' own settings, or alone on an in-memory database):
# a key of 32 bytes or more, the https address the public reaches it at, argon2's production parameters (no
# test that uses these hashes a password with them).
PRODUCTION_SETTINGS: dict[str, Any] = {
    "ENVIRONMENT": "production",
    "SECRET_KEY": "k" * 40,
    "PUBLIC_BASE_URL": "https://incidents.example.org/",
    "PASSWORD_HASH_PROFILE": "RFC_9106_LOW_MEMORY",
}


def create_user(
    app: Flask, email: str = "editor@example.org", role: Role = Role.EDITOR, password: str = PASSWORD
) -> User:
    """An account, made as `flask create-user` makes it; the user comes back detached from its session."""
    with app.app_context():
        user = create_account(email, password, role, COMMAND_LINE)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


def create_api_token(app: Flask, user: User, name: str = "tests") -> str:
    """An API token for the user, made as `flask create-token` makes it; the token itself."""
    with app.app_context():
        _record, token = create_token(db.session.get(User, user.id), name, COMMAND_LINE)
        db.session.commit()
        return token


# -- incidents -----------------------------------------------------------------------------------------------

# What every incident made by add_incident has unless told otherwise: a killing in Peru on 9 January 2023,
# published, with no place, coordinates or sources.
INCIDENT: dict[str, Any] = {
    "types": ["killing"],
    "start_date": "2023-01-09",
    "date_precision": "day",
    "country": "PE",
    "location_precision": "near",
    "verification_grade": "fair",
    "status": "published",
}


def add_incident(app: Flask, title: str, **fields: Any) -> int:
    """Add an incident through services.incidents.create_incident, as every channel does; its id.

    Keyword arguments are the input schema's fields, over INCIDENT. A published (or retracted) incident is
    made a draft, then moved by the operator along the workflow, as `load-demo --publish` does: the test
    asked for a distinct event, so the possible duplicates flagged on it are confirmed distinct first, as a
    reviewer would before publishing.
    """
    data: dict[str, Any] = {"title": title, **INCIDENT, **fields}
    wanted = PublicationStatus(data["status"])
    data["status"] = wanted.value if wanted in INITIAL else PublicationStatus.DRAFT.value
    with app.app_context():
        incident = create_incident(data, COMMAND_LINE).incident
        if _ROAD[wanted]:
            for flag in open_flags(incident.id):
                confirm_distinct(flag, COMMAND_LINE)
        for status in _ROAD[wanted]:
            transition(incident, status, COMMAND_LINE, reason="test data", version=incident.version)
        db.session.commit()
        return incident.id


_ROAD = {
    PublicationStatus.DRAFT: (),
    PublicationStatus.IN_REVIEW: (),
    PublicationStatus.PUBLISHED: (PublicationStatus.IN_REVIEW, PublicationStatus.PUBLISHED),
    PublicationStatus.RETRACTED: (
        PublicationStatus.IN_REVIEW,
        PublicationStatus.PUBLISHED,
        PublicationStatus.RETRACTED,
    ),
}


def publish(app: Flask, incident_id: int, reason: str = "reviewed") -> None:
    """Submit (when a draft) and publish the incident, by the operator, as the workflow has it."""
    with app.app_context():
        incident = db.session.get_one(Incident, incident_id)
        if incident.status == PublicationStatus.DRAFT:
            transition(incident, PublicationStatus.IN_REVIEW, COMMAND_LINE, version=incident.version)
        transition(
            incident, PublicationStatus.PUBLISHED, COMMAND_LINE, reason=reason, version=incident.version
        )
        db.session.commit()


def at_juliaca() -> dict[str, Any]:
    """Fields for an incident at a point in Juliaca (the map tests' incidents)."""
    return {
        "place_name": "Juliaca",
        "admin1": "Puno",
        "latitude": -15.5,
        "longitude": -70.13,
        "location_precision": "exact",
    }


def near_juliaca_with_a_witness() -> dict[str, Any]:
    """Fields for an incident near Juliaca that a witness says killed 2 or 3 (the export tests' incidents)."""
    return {
        "place_name": "Juliaca",
        "admin1": "Puno",
        "latitude": -15.4997,
        "longitude": -70.1333,
        "location_precision": "near",
        "citations": [
            {
                "source": {"title": "Witness statement kept by the team", "kind": "witness_testimony"},
                "claims": [{"category": "killed", "low": 2, "high": 3}],
            }
        ],
    }


def killed(low: int, high: int | None = None, source: str = "A report") -> dict[str, Any]:
    """A citation of a new source (press) claiming low (to high) killed."""
    claim: dict[str, Any] = {"category": "killed", "low": low}
    if high is not None:
        claim["high"] = high
    return {"source": {"title": source, "kind": "press"}, "claims": [claim]}


# Text that would run if a page, a script or a spreadsheet took it for code.
HOSTILE_TEXT = "=cmd|' /C calc'!A0 <img src=x onerror=alert(1)> `whoami` ${alert(1)} </script>"
HOSTILE_MARKUP = "<img src=x onerror=alert(1)> ${alert(1)} `tick` </script><script>alert(2)</script>"
# In the confidential notes and sources of unpublished incidents: no public output may hold it.
MARKER = "CONFIDENTIAL-MARKER-7f3a"
DRAFT_TITLE = "Draft: unverified raid in Ilave"


def add_hostile_and_draft(app: Flask) -> tuple[int, int]:
    """A published incident whose text is hostile (and whose notes are confidential), and a draft."""
    hostile = add_incident(
        app,
        HOSTILE_TEXT,
        **near_juliaca_with_a_witness()
        | {
            "narrative": HOSTILE_TEXT,
            "perpetrators": "-1+1 @SUM(A1)",
            "confidential_notes": f"{MARKER} witness phone number",
        },
    )
    draft = add_incident(
        app,
        DRAFT_TITLE,
        **near_juliaca_with_a_witness()
        | {
            "status": "draft",
            "confidential_notes": f"{MARKER} source is a police officer",
            "citations": [
                {
                    "source": {"title": f"Draft-only source {MARKER}", "kind": "witness_testimony"},
                    "claims": [{"category": "detained", "low": 4}],
                }
            ],
        },
    )
    return hostile, draft


def juliaca_form(**overrides: Any) -> dict[str, Any]:
    """The entry form filled in: the Juliaca airport killings, from two press sources; overrides by field."""
    form: dict[str, Any] = {
        "title": "Police fire on protesters near Juliaca airport",
        "types": ["killing", "injury"],
        "narrative": "Protesters marched on the Inca Manco Cápac airport.",
        "start_date": "2023-01-09",
        "end_date": "",
        "date_precision": "day",
        "place_name": "Juliaca",
        "admin1": "Puno",
        "admin2": "San Román",
        "country": "pe",
        "latitude": "-15.5",
        "longitude": "-70.13333",
        "location_precision": "near",
        "perpetrators": "National Police of Peru",
        "victims": "protesters",
        "verification_grade": "fair",
        "status": "draft",  # a new incident is a draft (or in review); publishing is a reviewer's later step
        "confidential_notes": "Witness W-3 asked not to be named.",
        "citations-0-source_id": "",
        "citations-0-source-title": "Peru: 17 dead in Juliaca clashes",
        "citations-0-source-kind": "press",
        "citations-0-source-publisher": "EFE",
        "citations-0-source-publication_date": "2023-01-10",
        "citations-0-locator": "para. 1",
        "citations-0-quote": "",
        "citations-0-claims-0-category": "killed",
        "citations-0-claims-0-low": "17",
        "citations-0-claims-0-high": "",
        "citations-1-source_id": "",
        "citations-1-source-title": "Juliaca: 18 muertos",
        "citations-1-source-kind": "press",
        "citations-1-source-publisher": "Diario Correo",
        "citations-1-claims-0-category": "killed",
        "citations-1-claims-0-low": "18",
        "citations-1-claims-1-category": "injured",
        "citations-1-claims-1-low": "33",
        "best-killed": "18",
        "action": "save",
    }
    form.update(overrides)
    return form


def load_demo(runner: FlaskCliRunner, *options: str) -> str:
    """`flask load-demo` with these options (the eleven demo incidents); what it printed."""
    result = runner.invoke(args=["load-demo", *options])
    assert result.exit_code == 0, result.output
    return result.output


def api_incident(**fields: Any) -> dict[str, Any]:
    """An incident as the API takes it (IncidentInput): detentions in Puno, with a figure and an estimate."""
    body: dict[str, Any] = {
        "title": "Puno: protesters detained at the bridge",
        "types": ["arrest_detention"],
        "start_date": "2023-01-20",
        "date_precision": "day",
        "country": "PE",
        "admin1": "Puno",
        "location_precision": "admin1",
        "verification_grade": "weak",
        "status": "in_review",
        "citations": [
            {
                "source": {"title": "Radio Onda Azul bulletin", "kind": "press"},
                "locator": "08:00 news",
                "claims": [{"category": "detained", "low": 12, "high": 15}],
            }
        ],
        "estimates": [{"category": "detained", "best": 13}],
    }
    body.update(fields)
    return body

"""The public incident page made from the stored record (exports.public_page) is the page made from the
incident's ORM objects, byte for byte: for every demo incident and for the cases the record words
differently (confidential sources without their ids, figures per group, coarsened locations, estimates)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents.audit import COMMAND_LINE
from incidents.extensions import db
from incidents.models import Incident, Source, StoredRecord
from incidents.schemas.incident import incident_input
from incidents.services.incidents import update_incident
from incidents.services.location_rules import add_rule
from incidents.vocabulary import PublicationStatus
from tests.factories import killed, load_demo


def _witness(title: str, low: int, group: str = "") -> dict[str, object]:
    return {
        "source": {"title": title, "kind": "witness_testimony", "reliability": "B"},
        "locator": "interview 1",
        "quote": "They fired from the bridge",
        "claims": [{"category": "killed", "low": low, "group": group}],
    }


def _varied_incidents(app: Flask, add_incident: Callable[..., int]) -> None:
    first = add_incident("Testimony heard once", citations=[_witness("Testimony of W-1", 2, "civilians")])
    with app.app_context():
        witness = db.session.get_one(Incident, first).citations[0].source_id
    repeated = {"source_id": witness, "locator": "interview 2", "claims": [{"category": "killed", "low": 4}]}
    add_incident(
        "Two witnesses, one heard twice, figures per group",
        citations=[
            _witness("Testimony of W-2", 3, "civilians"),
            repeated,
            {"source_id": witness, "claims": [{"category": "killed", "low": 1, "group": "police officers"}]},
            {
                "source": {"title": "Ombudsman statement", "kind": "official_statement"},
                "claims": [
                    {"category": "killed", "low": 2, "high": 3, "group": "Civilians "},
                    {"category": "injured", "low": 10, "high": 40},
                ],
            },
        ],
        estimates=[{"category": "injured", "best": 22}],
    )
    add_incident(
        "Curfew over three days in Puno, coarsened by a rule",
        types=["curfew", "raid"],
        start_date="2023-01-10",
        end_date="2023-01-13",
        date_precision="span",
        place_name="Puno",
        admin1="Puno",
        admin2="Puno",
        latitude=-15.8402,
        longitude=-70.0219,
        location_precision="exact",
        perpetrators="National Police <b>&</b> army",
        narrative="First paragraph.\n\nSecond <script>paragraph</script>.",
    )
    corrected = add_incident("Killings at the bridge", citations=[killed(5, source="Ombudsman bulletin")])
    with app.app_context():
        incident = db.session.get_one(Incident, corrected)
        figures = incident_input(incident) | {"citations": [killed(6, source="Ombudsman bulletin 2")]}
        update_incident(incident, figures, COMMAND_LINE, reason="The ombudsman revised the count")
        add_rule(
            {"kind": "region", "country": "PE", "admin1": "Puno", "grid_degrees": 0.5, "reason": "Reprisals"},
            COMMAND_LINE,
        )
        db.session.commit()


def _pages(client: FlaskClient, public_ids: list[str]) -> dict[str, tuple[bytes, str | None]]:
    pages = {}
    for public_id in public_ids:
        answer = client.get(f"/incidents/{public_id}")
        assert answer.status_code == 200
        pages[public_id] = (answer.data, answer.headers.get("ETag"))
    return pages


def test_the_page_from_the_stored_record_is_the_page_from_the_incident(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, add_incident: Callable[..., int]
) -> None:
    load_demo(runner)
    _varied_incidents(app, add_incident)
    with app.app_context():
        public_ids = list(
            db.session.scalars(
                sa.select(Incident.public_id).where(Incident.status == PublicationStatus.PUBLISHED)
            )
        )
        assert db.session.scalar(sa.select(sa.func.count()).where(Source.confidential)) >= 2
    assert len(public_ids) >= 10
    from_records = _pages(client, public_ids)
    assert all(etag is not None for _, etag in from_records.values()), "made from the stored records"
    with app.app_context():
        # As after an upgrade that changed the record's layout: the pages are made from the ORM objects.
        db.session.execute(sa.update(StoredRecord).values(layout="old"))
        db.session.commit()
    try:
        from_incidents = _pages(client, public_ids)
    finally:
        assert runner.invoke(args=["records", "--rebuild"]).exit_code == 0
    assert all(etag is None for _, etag in from_incidents.values()), "made from the incidents"
    for public_id in public_ids:
        assert from_records[public_id][0] == from_incidents[public_id][0], public_id
    text = b"".join(page for page, _ in from_records.values()).decode()
    assert "of whom civilians" in text and "published coarsened" in text and "A confidential source" in text
    assert "The ombudsman revised the count" in text

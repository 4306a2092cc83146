"""The stored records' version moves whenever a record's bytes change.

Stored records are used only when their layout names the current RECORD_VERSION (exports.stored.LAYOUT): a
change to the bytes a record is written as, with the version left as it was, would leave every stored record
stale and every export wrong, silently. So the canonical bytes of the fixture incidents below are kept in
tests/golden/records-v<RECORD_VERSION>.jsonl, and this test fails when they change while the version stays.

After a change to the record format made on purpose: move RECORD_VERSION in incidents/exports/serialize.py,
run this test once with WRITE_GOLDEN_RECORDS=1 to write the new version's file (the test then fails, saying
so), look at the difference, and commit the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from incidents.audit import COMMAND_LINE
from incidents.derived import stored_records
from incidents.exports import stored
from incidents.exports.serialize import RECORD_VERSION
from incidents.extensions import db
from incidents.models import Incident
from incidents.services.incidents import create_incident
from incidents.services.sources import create_source

GOLDEN = Path(__file__).parent / "golden" / f"records-v{RECORD_VERSION}.jsonl"

_FULL = {
    "title": "Police fire on protesters near Juliaca airport",
    "narrative": "Protesters marched on the airport.\nLine two, with “quotes” and é.",
    "types": ["killing", "injury"],
    "start_date": "2023-01-09",
    "date_precision": "day",
    "place_name": "Juliaca",
    "admin1": "Puno",
    "admin2": "San Román",
    "country": "PE",
    "latitude": -15.5,
    "longitude": -70.13333,
    "location_precision": "near",
    # Version 2: the public record has the coarsened location (and says so); testimony is withheld (_TINY).
    "location_sensitive": True,
    "location_sensitive_reason": "A witness lives by the airport road.",
    "perpetrators": "National Police of Peru",
    "victims": "protesters",
    "verification_grade": "fair",
    "status": "draft",  # a record carries no status: what it is published as is the same
    "confidential_notes": "Never in a public record.",
    "citations": [
        {
            "source": {
                "title": "Juliaca: 18 muertos",
                "kind": "press",
                "publisher": "La República",
                "publication_date": "2023-01-10",
                "url": "https://example.org/juliaca",
                "accessed_date": "2023-01-11",
                "language": "es",
                "reliability": "B",
            },
            "locator": "para. 2",
            "quote": "18 muertos",
            "claims": [
                {"category": "killed", "low": 18},
                {"category": "killed", "low": 17, "group": "civilians"},
                {"category": "killed", "low": 1, "group": "police officers"},
            ],
        },
        {
            "source": {"title": "Peru: 17 dead in Juliaca clashes", "kind": "press", "publisher": "EFE"},
            "claims": [{"category": "killed", "low": 17}, {"category": "injured", "low": 30, "high": 33}],
        },
    ],
    "estimates": [{"category": "killed", "best": 18}],
}

_NO_POINT = {
    "title": "Curfew in Puno region",
    "types": ["curfew"],
    "start_date": "2023-01-14",
    "end_date": "2023-01-24",
    "date_precision": "span",
    "admin1": "Puno",
    "country": "PE",
    "location_precision": "admin1",
    "verification_grade": "confirmed",
    "status": "in_review",
    "citations": [{"source_id": 1}],
}

_TINY = {
    "title": "<script>alert(1)</script> near Null Island",
    "types": ["threat_harassment"],
    "start_date": "2022-12-01",
    "date_precision": "month",
    "country": "GH",
    "latitude": 0.00001,
    "longitude": -0.00002,
    "location_precision": "exact",
    "verification_grade": "weak",
    "status": "draft",
    "citations": [{"source_id": 3, "claims": [{"category": "detained", "low": 0, "high": 2}]}],
}


def _fixture_records(app: Flask) -> bytes:
    with app.app_context():
        create_incident(_FULL, COMMAND_LINE)
        create_incident(_NO_POINT, COMMAND_LINE)
        create_source({"title": "Testimony W-3", "kind": "witness_testimony", "language": "es"}, COMMAND_LINE)
        create_incident(_TINY, COMMAND_LINE)
        db.session.commit()
        # Public ids are random: these incidents get fixed ones, for bytes that do not change run to run.
        for key, public_id in ((1, "aaaaaaaaaaa2"), (2, "bbbbbbbbbbb3"), (3, "ccccccccccc4")):
            db.session.execute(sa.update(Incident).where(Incident.id == key).values(public_id=public_id))
        stored_records.refresh(db.session.connection(), [1, 2, 3])
        db.session.commit()
        built = stored.build([1, 2, 3])
    return b"".join(built[i] + b"\n" for i in sorted(built))


def test_record_bytes_change_only_with_the_record_version(app: Flask) -> None:
    records = _fixture_records(app)
    if os.environ.get("WRITE_GOLDEN_RECORDS") and not GOLDEN.exists():
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_bytes(records)
        raise AssertionError(f"wrote {GOLDEN.name}: look at it, commit it, and run the tests again")
    assert GOLDEN.exists(), (
        f"RECORD_VERSION is {RECORD_VERSION} but {GOLDEN} is missing: write it (see this module's docstring)"
    )
    expected = GOLDEN.read_bytes()
    assert records == expected, (
        f"The bytes of a stored record changed while RECORD_VERSION stayed {RECORD_VERSION}: every record "
        "stored by the previous code would be used as if current. Move RECORD_VERSION in "
        "incidents/exports/serialize.py and write its golden file (see this module's docstring), or undo "
        "the change."
    )


def test_the_layout_names_the_record_version() -> None:
    assert stored.LAYOUT.startswith(f"{RECORD_VERSION};")

"""The stored public records the JSON export streams: written on every save, never stale, rebuilt on demand.

(Every test of the suite also checks, when it ends, that each stored record is what a fresh build gives:
see tests/conftest.py. These tests cover what that check alone cannot.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents import derived
from incidents.audit import COMMAND_LINE
from incidents.derived import stored_records
from incidents.exports import stored
from incidents.exports.reader import IncidentReader
from incidents.exports.serialize import canonical_json, incident_record, iso_timestamp
from incidents.extensions import db
from incidents.models import Citation, Incident, IncidentType, Source, StoredRecord
from incidents.schemas.incident import incident_input
from incidents.services.incident_types import relabel_incident_type
from incidents.services.incidents import update_incident
from incidents.services.sources import update_source
from incidents.vocabulary import PublicationStatus, Role
from tests.factories import load_demo
from tests.helpers import export_json, login, run_import, write


def _source_input(source: Source) -> dict[str, Any]:
    """The source as SourceInputSchema input."""
    return {
        "title": source.title,
        "kind": source.kind.value,
        "publisher": source.publisher,
        "author": source.author,
        "publication_date": source.publication_date.isoformat() if source.publication_date else None,
        "url": source.url,
        "accessed_date": source.accessed_date.isoformat() if source.accessed_date else None,
        "archive_url": source.archive_url,
        "language": source.language,
        "reliability": source.reliability.value,
    }


def _stored_count() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(StoredRecord).where(StoredRecord.layout == stored.LAYOUT)
        )
        or 0
    )


def test_every_saved_incident_has_its_record(app: Flask, runner: FlaskCliRunner) -> None:
    load_demo(runner)
    with app.app_context():
        assert _stored_count() == 11 == db.session.scalar(sa.select(sa.func.count(Incident.id)))
        assert stored_records.check(db.session.connection()) == []


def test_editing_a_source_rewrites_the_records_that_cite_it(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    before = export_json(client)
    with app.app_context():
        source = db.session.scalars(sa.select(Source).order_by(Source.id)).first()
        assert source is not None
        source_id = source.id
        update_source(source, _source_input(source) | {"title": "Renamed report <b>&</b>"}, COMMAND_LINE)
        db.session.commit()
    after = export_json(client)
    citing = [i for i in after["incidents"] if any(c["source"]["id"] == source_id for c in i["citations"])]
    assert citing, "the first source of the demo is cited"
    for incident in citing:
        titles = [c["source"]["title"] for c in incident["citations"] if c["source"]["id"] == source_id]
        assert titles and set(titles) == {"Renamed report <b>&</b>"}
    assert after["header"]["checksum"] != before["header"]["checksum"]


def test_renaming_an_incident_type_rewrites_the_records_of_that_type(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    with app.app_context():
        killing = db.session.scalars(sa.select(IncidentType).where(IncidentType.slug == "killing")).one()
        relabel_incident_type(killing, {"label": "Unlawful killing"}, COMMAND_LINE)
        db.session.commit()
    labels = {
        t["label"] for i in export_json(client)["incidents"] for t in i["types"] if t["slug"] == "killing"
    }
    assert labels == {"Unlawful killing"}


def test_a_change_saved_before_a_failed_savepoint_is_still_written(
    app: Flask, runner: FlaskCliRunner
) -> None:
    load_demo(runner)
    with app.app_context():
        first = db.session.scalars(sa.select(Incident).order_by(Incident.id)).first()
        assert first is not None
        update_incident(
            first,
            incident_input(first) | {"title": "Renamed before the savepoint"},
            COMMAND_LINE,
            reason="a correction",
        )
        try:
            with db.session.begin_nested():
                source = db.session.scalars(sa.select(Source)).first()
                assert source is not None
                update_source(
                    source, _source_input(source) | {"title": "Renamed in the savepoint"}, COMMAND_LINE
                )
                db.session.execute(sa.text("SELECT 1/0")) if db.engine.dialect.name == "postgresql" else None
                raise RuntimeError("give up the savepoint")
        except (RuntimeError, sa.exc.DBAPIError):
            pass
        db.session.commit()
        assert stored_records.check(db.session.connection()) == []
        content = db.session.scalar(
            sa.select(StoredRecord.content).where(StoredRecord.incident_id == first.id)
        )
        assert content is not None and b"Renamed before the savepoint" in content
        assert b"Renamed in the savepoint" not in b"".join(
            db.session.scalars(sa.select(StoredRecord.content))
        )


def test_a_save_whose_refresh_fails_leaves_nothing_and_saves_when_tried_again(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(runner)
    real = stored_records.refresh
    calls = []

    def failing_once(connection: sa.Connection, ids: Any) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the rebuild failed")
        return real(connection, ids)

    monkeypatch.setattr(stored_records, "refresh", failing_once)
    with app.app_context():
        first = db.session.scalars(sa.select(Incident).order_by(Incident.id)).first()
        assert first is not None
        first_id, version = first.id, first.version
        edited = incident_input(first) | {"title": "Saved on the second try"}
        with pytest.raises(RuntimeError):
            update_incident(first, edited, COMMAND_LINE, reason="a correction")
        db.session.rollback()
        again = db.session.get(Incident, first_id)
        assert again is not None and again.title != "Saved on the second try" and again.version == version
        update_incident(again, edited, COMMAND_LINE, reason="a correction")
        db.session.commit()
        assert len(calls) == 2
        assert stored_records.check(db.session.connection()) == []
        content = db.session.scalar(
            sa.select(StoredRecord.content).where(StoredRecord.incident_id == first_id)
        )
        assert content is not None and b"Saved on the second try" in content


def test_citing_a_shared_source_rebuilds_only_the_incident_saved(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(runner)
    rebuilt: list[int] = []
    real = stored_records.refresh

    def recording(connection: sa.Connection, ids: Any) -> int:
        ids = sorted(ids)
        rebuilt.extend(ids)
        return real(connection, ids)

    monkeypatch.setattr(stored_records, "refresh", recording)
    with app.app_context():
        source = db.session.scalars(sa.select(Source).order_by(Source.id)).first()
        assert source is not None
        citing = set(
            db.session.scalars(sa.select(Citation.incident_id).where(Citation.source_id == source.id))
        )
        assert citing
        incident = db.session.scalars(
            sa.select(Incident).where(Incident.id.not_in(citing)).order_by(Incident.id)
        ).first()
        assert incident is not None
        edited = incident_input(incident)
        edited["citations"].append({"source_id": source.id, "locator": "p. 2", "quote": "", "claims": []})
        update_incident(incident, edited, COMMAND_LINE, reason="a correction")
        saved = incident.id
        db.session.commit()
    # The source's list of citations changed, the source did not: no other record is rewritten.
    assert rebuilt == [saved]


def test_exports_are_right_without_stored_records_and_the_command_rebuilds_them(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, caplog: pytest.LogCaptureFixture
) -> None:
    load_demo(runner)
    expected = export_json(client)
    with app.app_context():
        # As after an upgrade that changed the record code, or a record lost: one stale, the rest missing.
        db.session.execute(sa.update(StoredRecord).where(StoredRecord.incident_id == 1).values(layout="old"))
        db.session.execute(sa.delete(StoredRecord).where(StoredRecord.incident_id != 1))
        db.session.commit()
    with caplog.at_level("WARNING", logger="incidents.exports.stored"):
        rebuilt_on_the_fly = export_json(client)
    # The operator is told why the export is slow and what to run.
    assert "flask --app incidents records --rebuild" in caplog.text
    assert rebuilt_on_the_fly["incidents"] == expected["incidents"]
    assert rebuilt_on_the_fly["header"]["checksum"] == expected["header"]["checksum"]

    checked = runner.invoke(args=["records", "--check"])
    assert checked.exit_code == 1
    assert "11 of 11 stored record(s) are missing or out of date" in checked.output
    rebuilt = runner.invoke(args=["records", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "Rebuilt 11 stored record(s)." in rebuilt.output
    checked = runner.invoke(args=["records"])
    assert checked.exit_code == 0 and "All 11 stored record(s) match their incidents." in checked.output
    with app.app_context():
        assert _stored_count() == 11


def test_a_record_changed_behind_the_apps_back_is_found(app: Flask, runner: FlaskCliRunner) -> None:
    load_demo(runner)
    with app.app_context():
        db.session.execute(
            sa.update(StoredRecord).where(StoredRecord.incident_id == 3).values(content=b'{"id":3}')
        )
        db.session.commit()
        assert stored_records.check(db.session.connection()) == [3]
    result = runner.invoke(args=["records", "--check"])
    assert result.exit_code == 1 and "incidents 3)" in result.output
    assert runner.invoke(args=["records", "--rebuild"]).exit_code == 0


def test_the_staff_export_is_what_a_full_build_gives(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, make_user: Any
) -> None:
    load_demo(runner)
    editor = make_user("editor@example.org")
    other = make_user("admin@example.org", Role.ADMIN)
    with app.app_context():
        # Different people created and last changed them, with notes: each staff field must be its own.
        # Set by hand (no service sets who created an incident), then refreshed as a service would.
        incidents = list(db.session.scalars(sa.select(Incident).order_by(Incident.id)))
        ids = [incident.id for incident in incidents]
        before = derived.before_change(db.session.connection(), ids)
        for number, incident in enumerate(incidents):
            incident.created_by_id = editor.id
            incident.updated_by_id = other.id if number % 2 else None
            incident.confidential_notes = f'note {number} "quoted"'
            incident.status = PublicationStatus.DRAFT if number % 3 == 0 else PublicationStatus.PUBLISHED
        db.session.flush()
        derived.refresh(db.session.connection(), ids, before=before)
        db.session.commit()
        expected = [
            canonical_json(incident_record(rows, staff=True))
            for batch in IncidentReader(sa.select(Incident), staff=True).batches()
            for rows in batch
        ]
    login(client, "editor@example.org")
    document = export_json(client)
    assert document["header"]["audience"] == "staff"
    exported = [
        canonical_json({key: value for key, value in incident.items() if key != "url"})
        for incident in document["incidents"]
    ]
    assert exported == expected
    assert any(
        b'"created_by":"editor@example.org"' in line and b'"updated_by":"admin@example.org"' in line
        for line in exported
    )


# -- the two fast roads give what the slow ones give ---------------------------------------------------------

_hostile_text = st.text(
    alphabet=st.sampled_from(list(',"\\:{}[]titledaversion_gcfnbu ') + ["é", "\u2028", "\x00", "\n"]),
    max_size=30,
)


def _record(texts: list[str], numbers: list[int]) -> dict[str, Any]:
    t = iter(texts)
    return {
        "casualties": [{"best": None, "category": "killed", "high": numbers[0], "low": 0, "source_count": 1}],
        "citations": [
            {
                "claims": [{"category": "killed", "high": numbers[0], "low": 0}],
                "locator": next(t),
                "quote": next(t),
                "source": {"id": 1, "title": next(t), "url": next(t), "publication_date": None},
            }
        ],
        "date": {"end": None, "precision": "day", "start": "2023-01-09", "ucdp_date_prec": 1},
        "id": numbers[1],
        "location": {"country": "PE", "latitude": -15.5, "longitude": -70.1, "place_name": next(t)},
        "narrative": next(t),
        "perpetrators": next(t),
        "source_count": 1,
        "title": next(t),
        "types": [{"label": next(t), "slug": "killing"}],
        "verification_grade": "fair",
        "victims": next(t),
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    texts=st.lists(_hostile_text, min_size=10, max_size=10),
    notes=_hostile_text,
    who=st.one_of(st.none(), _hostile_text),
    numbers=st.lists(st.integers(0, 2**31 - 1), min_size=2, max_size=2),
)
def test_staff_fields_are_put_where_a_full_rewrite_puts_them(
    texts: list[str], notes: str, who: str | None, numbers: list[int]
) -> None:
    record = _record(texts, numbers)
    staff = {
        "confidential_notes": notes,
        "created_at": "2023-01-09T10:00:00Z",
        "created_by": who,
        "status": "draft",
        "updated_at": "2023-01-10T10:00:00.5Z",
        "updated_by": who,
        "version": numbers[0] + 1,
        "location_sensitivity": _sensitivity(notes, who or "", -15.55, -70.15),
    }
    assert stored.with_staff_fields(canonical_json(record), staff) == canonical_json(record | staff)


def _sensitivity(reason: str, place: str, latitude: float | None, longitude: float | None) -> dict[str, Any]:
    public = {"latitude": latitude, "longitude": longitude, "place_name": place, "precision": "near"}
    return {"sensitive": bool(reason), "reason": reason, "public": public}


def test_tiny_public_coordinates_take_the_slow_road_to_the_same_bytes() -> None:
    # orjson writes 1e-05 as 1e-5; the canonical form is Python's json (serialize.canonical_json).
    record = _record(["t"] * 10, [1, 2])
    staff = {
        "confidential_notes": "",
        "created_at": None,
        "created_by": None,
        "status": "published",
        "updated_at": None,
        "updated_by": None,
        "version": 1,
        "location_sensitivity": _sensitivity("", "t", 0.00001, -0.00002),
    }
    assert b"1e-05" in stored.with_staff_fields(canonical_json(record), staff)
    assert stored.with_staff_fields(canonical_json(record), staff) == canonical_json(record | staff)


def test_a_record_of_another_shape_takes_the_slow_road_to_the_same_bytes() -> None:
    staff = {
        "confidential_notes": "n",
        "created_at": None,
        "created_by": None,
        "status": "draft",
        "updated_at": None,
        "updated_by": None,
        "version": 1,
        "location_sensitivity": _sensitivity("", "t", None, None),
    }
    for missing in ("title", "date", "narrative", "verification_grade", "victims"):
        record = _record(["t"] * 10, [1, 2])
        del record[missing]
        record["location"]["longitude"] = record["location"]["latitude"] = None
        assert stored.with_staff_fields(canonical_json(record), staff) == canonical_json(record | staff)


@given(st.datetimes(min_value=dt.datetime(1800, 1, 1), max_value=dt.datetime(9999, 12, 31)))
def test_timestamps_as_sqlite_keeps_them_read_as_text_or_as_datetimes_agree(moment: dt.datetime) -> None:
    as_stored = moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format
    assert iso_timestamp(as_stored) == iso_timestamp(moment.replace(tzinfo=dt.UTC))
    assert iso_timestamp(as_stored) == moment.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def test_a_stored_record_is_the_public_record_only(app: Flask, runner: FlaskCliRunner) -> None:
    load_demo(runner)
    with app.app_context():
        for content in db.session.scalars(sa.select(StoredRecord.content)):
            record = orjson.loads(content)
            assert not {"status", "confidential_notes", "created_by", "updated_by", "version"} & set(record)


def test_an_import_at_minus_zero_stores_the_record_the_database_gives(
    app: Flask, runner: FlaskCliRunner, tmp_path: Any
) -> None:
    path = write(
        tmp_path,
        "zero.csv",
        "id,date,place,country,type,killed,source,latitude,longitude\n"
        "Z-1,2023-01-09,Null Island,GH,killing,1,A report,-0.0,-0.0\n",
    )
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert stored_records.check(db.session.connection()) == []
        incident = db.session.scalars(sa.select(Incident)).one()
        assert (incident.latitude, incident.longitude) == (0.0, 0.0)

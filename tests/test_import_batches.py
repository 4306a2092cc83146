"""Imports in several batches: ids, sources and duplicates carry over from batch to batch, the writes that
run behind (on PostgreSQL) are all in before the commit, and a write that fails leaves nothing behind."""

from __future__ import annotations

import copy
import csv
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from incidents.extensions import db
from incidents.models import Incident, Source
from incidents.services.imports import importer, inserts
from incidents.services.imports.behind import WriteBehind
from tests.factories import load_demo
from tests.helpers import (
    FIXTURES,
    checksum,
    counts,
    empty_the_database,
    export_file,
    recomputed_checksum,
    run_import,
)

UCDP = FIXTURES / "ucdp_ged.csv"


def _without_ids(value: Any) -> Any:
    """A record without what differs between two imports of the same file: ids (and links) and times."""
    if isinstance(value, dict):
        return {
            k: _without_ids(v) for k, v in value.items() if k not in ("id", "url", "created_at", "updated_at")
        }
    if isinstance(value, list):
        return [_without_ids(v) for v in value]
    return value


@pytest.mark.parametrize("chunk", [1, 2])
def test_an_import_in_small_batches_gives_what_one_batch_gives(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    whole = run_import(runner, UCDP, "--publish")
    assert whole.exit_code == 0, whole.output
    expected = export_file(runner, tmp_path / "whole.json")
    expected_counts = counts(app)
    empty_the_database(app)

    monkeypatch.setattr(importer, "CHUNK", chunk)
    batched = run_import(runner, UCDP, "--publish")
    assert batched.exit_code == 0, batched.output
    # The same report (sources found again across batches, not added twice; the same duplicates) …
    assert batched.output == whole.output
    assert counts(app) == expected_counts
    # … and the same incidents, sources, claims and estimates, in the same order.
    got = export_file(runner, tmp_path / "batched.json")
    assert _without_ids(got["incidents"]) == _without_ids(expected["incidents"])


def test_kept_and_new_ids_across_batches(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(runner, "--publish")
    first = export_file(runner, tmp_path / "first.json")
    monkeypatch.setattr(importer, "CHUNK", 3)

    # Into the same database, in batches of 3: every incident id is taken, so each gets a new one (sources
    # with the same content are the stored ones).
    taken = run_import(runner, tmp_path / "first.json")
    assert taken.exit_code == 0, taken.output
    assert counts(app)["incidents"] == 22

    # Into an empty one (its sequences back at 1, on PostgreSQL): every id kept, across batches, and the
    # records are the same bytes.
    empty_the_database(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            for table in ("incidents", "sources", "citations"):
                sequence = sa.func.pg_get_serial_sequence(table, "id")
                db.session.execute(sa.select(sa.func.setval(sequence, 1, False)))
            db.session.commit()
    kept = run_import(runner, tmp_path / "first.json", "--publish")
    assert kept.exit_code == 0, kept.output
    second = export_file(runner, tmp_path / "second.json")
    assert checksum(second) == checksum(first)
    # Saves after it get ids past those kept.
    load_demo(runner, "--publish")
    assert counts(app)["incidents"] == 22


def test_a_file_partly_imported_before_adds_only_its_new_rows_batch_by_batch(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new release of a data set: its known rows are found (they are committed, and on PostgreSQL looked
    up without waiting for this import's writes), its new ones added, in whatever batch either comes."""
    with UCDP.open(encoding="utf-8", newline="") as file:
        header, hxl, *records = list(csv.reader(file))
    assert len(records) == 5
    older = tmp_path / "older.csv"
    with older.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, hxl, records[1], records[3]])
    first = run_import(runner, older)
    assert first.exit_code == 0, first.output
    assert counts(app)["incidents"] == 2

    monkeypatch.setattr(importer, "CHUNK", 1)
    again = run_import(runner, UCDP)
    assert again.exit_code == 0, again.output
    assert "3 incident(s) created" in again.output
    assert "2 already imported before: nothing new for them." in again.output
    assert counts(app)["incidents"] == 5
    with app.app_context():
        ids = db.session.scalars(sa.select(Incident.external_id).order_by(Incident.external_id)).all()
    assert ids == sorted(record[0] for record in records)

    # And once more: nothing new at all.
    third = run_import(runner, UCDP)
    assert third.exit_code == 0, third.output
    assert "5 already imported before: nothing new for them." in third.output
    assert counts(app)["incidents"] == 5


def test_a_row_repeating_a_new_id_of_an_earlier_batch_is_an_error_for_a_known_data_set(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A repeat is told apart from a row imported before, whether the data set is known or not and in
    whatever batch the repeat comes: it is the file's own row, not one in the database."""
    with UCDP.open(encoding="utf-8", newline="") as file:
        header, hxl, *records = list(csv.reader(file))
    older = tmp_path / "older.csv"
    with older.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, hxl, records[0]])
    assert run_import(runner, older).exit_code == 0
    before = counts(app)
    repeating = tmp_path / "repeating.csv"
    with repeating.open("w", encoding="utf-8", newline="") as file:
        csv.writer(file).writerows([header, hxl, *records, records[2]])

    monkeypatch.setattr(importer, "CHUNK", 1)
    result = run_import(runner, repeating)
    assert result.exit_code != 0
    assert f"row 8: Repeats the id {records[2][0]} of row 5." in result.output
    assert counts(app) == before


def test_a_write_that_fails_mid_import_leaves_the_database_as_it_was(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write failing in the database (it cannot for valid rows; a lost connection can) stops the import:
    its error is raised, nothing is committed, the writing thread is gone and the next import works."""
    before = counts(app)
    threads = threading.active_count()
    name = "_sqlite_executemany" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "_copy"
    original = getattr(inserts, name)
    calls = 0

    def failing(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 9:  # in the second batch
            raise RuntimeError("the server went away")
        original(*args)

    monkeypatch.setattr(inserts, name, failing)
    monkeypatch.setattr(importer, "CHUNK", 2)
    result = run_import(runner, UCDP)
    assert isinstance(result.exception, RuntimeError), result.output
    assert str(result.exception) == "the server went away"
    assert calls == 9  # the rest was not written
    assert counts(app) == before
    assert threading.active_count() == threads

    monkeypatch.setattr(inserts, name, original)
    again = run_import(runner, UCDP)
    assert again.exit_code == 0, again.output
    assert counts(app)["incidents"] == 5


def test_write_behind_runs_jobs_in_order_and_raises_the_first_error() -> None:
    behind = WriteBehind(threaded=True)
    done: list[int] = []
    for number in range(5):
        behind.submit(lambda number=number: done.append(number))
    behind.wait()
    assert done == [0, 1, 2, 3, 4]

    def fail() -> None:
        raise ValueError("constraint")

    behind.submit(fail)
    behind.submit(lambda: done.append(5))  # after a failure: dropped, half a batch is not written
    with pytest.raises(ValueError, match="constraint"):
        behind.wait()
    assert done == [0, 1, 2, 3, 4]
    behind.close()


def test_write_behind_close_raises_an_error_not_raised_yet() -> None:
    behind = WriteBehind(threaded=True)

    def fail() -> None:
        raise ValueError("lost")

    behind.submit(fail)
    with pytest.raises(ValueError, match="lost"):
        behind.close()


def test_write_behind_holds_at_most_its_limit() -> None:
    behind = WriteBehind(threaded=True, limit=2)
    release = threading.Event()
    behind.submit(release.wait)
    behind.submit(lambda: None)
    submitted = threading.Event()

    def third() -> None:
        behind.submit(lambda: None)
        submitted.set()

    thread = threading.Thread(target=third)
    thread.start()
    time.sleep(0.05)
    assert not submitted.is_set()  # two queued: the third waits
    release.set()
    thread.join(timeout=5)
    assert submitted.is_set()
    behind.close()


def test_write_behind_inline_runs_each_job_at_once() -> None:
    behind = WriteBehind(threaded=False)
    done: list[int] = []
    behind.submit(lambda: done.append(1))
    assert done == [1]
    behind.close()


def _export_of(document: dict[str, Any], incidents: list[dict[str, Any]]) -> dict[str, Any]:
    """The export document with these incidents instead, and the header that goes with them."""
    changed = copy.deepcopy(document)
    changed["incidents"] = incidents
    changed["header"]["checksum"]["value"] = recomputed_checksum(changed)
    changed["header"]["count"] = len(incidents)
    return changed


def _import_one_a_batch(
    runner: FlaskCliRunner, tmp_path: Path, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    monkeypatch.setattr(importer, "CHUNK", 1)
    result = run_import(runner, path)
    assert result.exit_code == 0, (result.output, result.exception)


def test_ids_kept_in_one_batch_are_not_given_again_in_a_later_one(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance's export from before public ids (1.2: numbered incidents), one record a batch: a
    taken id gets a fresh one, a free id is kept, and the fresh ids after it go past the kept one."""
    load_demo(runner, "--publish")
    document = export_file(runner, tmp_path / "demo.json")
    document["format_version"] = "1.2"
    records = copy.deepcopy(document["incidents"][:3])
    with app.app_context():
        top = db.session.scalar(sa.select(sa.func.max(Incident.id)))
    assert top is not None
    records[0]["id"] = 1  # taken: fresh, top + 1
    records[1]["id"] = top + 2  # free: kept, in a batch that draws no fresh id
    records[2]["id"] = 2  # taken: fresh, and not top + 2 again
    _import_one_a_batch(runner, tmp_path, _export_of(document, records), monkeypatch)
    with app.app_context():
        ids = set(db.session.scalars(sa.select(Incident.id)))
    assert top + 2 in ids
    assert len(ids) == len(document["incidents"]) + 3


def test_public_ids_are_kept_where_free_batch_by_batch(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1.3 export, one record a batch: a taken public id gets a fresh one, free ones are kept."""
    load_demo(runner, "--publish")
    document = export_file(runner, tmp_path / "demo.json")
    records = copy.deepcopy(document["incidents"][:3])
    taken = records[0]["id"]
    records[1]["id"], records[2]["id"] = "z" * 12, "y" * 12
    _import_one_a_batch(runner, tmp_path, _export_of(document, records), monkeypatch)
    with app.app_context():
        public_ids = db.session.scalars(sa.select(Incident.public_id)).all()
    assert len(public_ids) == len(set(public_ids)) == len(document["incidents"]) + 3
    assert {taken, "z" * 12, "y" * 12} <= set(public_ids)


def test_source_ids_kept_in_one_batch_are_not_given_again_in_a_later_one(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_demo(runner, "--publish")
    document = export_file(runner, tmp_path / "demo.json")
    with app.app_context():
        top = db.session.scalar(sa.select(sa.func.max(Source.id)))
    assert top is not None
    records = []
    # Sources whose ids are taken by others (new ids), and one whose id is free (kept), one a batch.
    for number, (source_id, title) in enumerate([(1, "Changed A"), (top + 2, "New B"), (2, "Changed C")]):
        record = copy.deepcopy(document["incidents"][number])
        record["id"] = 1000 + number
        record["citations"] = record["citations"][:1]
        record["citations"][0]["source"].update(id=source_id, title=title)
        records.append(record)
    _import_one_a_batch(runner, tmp_path, _export_of(document, records), monkeypatch)
    with app.app_context():
        titles = dict(
            db.session.execute(sa.select(Source.title, Source.id).where(Source.id > top - 10)).all()
        )
    assert titles["New B"] == top + 2
    assert len({titles["Changed A"], titles["Changed C"], top + 2}) == 3

"""Public ids: incident URLs, records and cursors that do not tell how many incidents are unpublished.

(The crawl of every public answer for a numbered incident is in test_leaks.py; the numbered URLs of incidents
from before public ids, which keep working, in test_migrations.py.)
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from incidents import public_ids
from incidents.extensions import db
from incidents.models import Incident
from incidents.public_ids import ALPHABET, LENGTH, LETTERS, is_public_id, new_public_id
from incidents.services.imports import ids as import_ids
from tests.helpers import FIXTURES, page, public_id, run_import


def test_a_public_id_is_random_lower_case_and_never_a_number() -> None:
    drawn = {new_public_id() for _ in range(2000)}
    assert len(drawn) == 2000
    for value in drawn:
        assert len(value) == LENGTH and value[0] in LETTERS and set(value) <= set(ALPHABET)
        assert is_public_id(value) and not is_public_id(value.upper())
    # Seeded, for generated data: the same ids again.
    assert new_public_id(random.Random(3)) == new_public_id(random.Random(3))  # noqa: S311
    for value in ("", "123456789012", "k7q2m9x4ab3", "k7q2m9x4ab3ff", "l7q2m9x4ab3f", "k0q2m9x4ab3f", 12):
        assert not is_public_id(value)


def test_numbers_tell_the_public_nothing_and_lead_staff_to_the_page(
    app: Flask, editor_client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    published = add_incident("Raid on San Marcos University")
    draft = add_incident("A draft between them", status="draft")
    later = add_incident("Curfew in Puno")
    public = app.test_client()
    for incident_id in (published, later):
        assert public.get(page(app, incident_id)).status_code == 200
    # A number is no URL for the public: a published incident's, a draft's and one no incident has all give
    # the same answer, byte for byte.
    answers = [public.get(f"/incidents/{n}") for n in (published, draft, later, later + 50)]
    assert {answer.status_code for answer in answers} == {404}
    assert len({answer.get_data() for answer in answers}) == 1
    api_answers = [public.get(f"/api/v1/incidents/{n}") for n in (published, draft, later + 50)]
    assert {answer.status_code for answer in api_answers} == {404}
    assert len({answer.get_data() for answer in api_answers}) == 1
    assert public.get(page(app, draft)).status_code == 404
    # Staff reach any incident by its number: redirected to its page, the query kept.
    moved = editor_client.get(f"/incidents/{draft}?confirm_merge=1")
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"{page(app, draft)}?confirm_merge=1"
    assert "A draft between them" in editor_client.get(page(app, draft)).get_data(as_text=True)
    # Typed in capitals, a public id is found all the same.
    shouted = page(app, published).replace(public_id(app, published), public_id(app, published).upper())
    assert "San Marcos" in public.get(shouted).get_data(as_text=True)
    # A number too large for the database, or zero, is simply not found.
    for url in ("/incidents/0", "/incidents/99999999999", "/incidents/2147483648"):
        assert editor_client.get(url).status_code == 404


@pytest.mark.app_config({"PUBLIC_BASE_URL": "https://incidents.example.org/"})
def test_the_incident_page_and_its_citation_name_the_public_id(
    app: Flask, add_incident: Callable[..., int]
) -> None:
    incident_id = add_incident("Killings in Juliaca", place_name="Juliaca")
    identifier = public_id(app, incident_id)
    text = app.test_client().get(page(app, incident_id)).get_data(as_text=True)
    assert f"Incident {identifier}, version 3" in text  # created, submitted, published
    assert f"https://incidents.example.org/incidents/{identifier} (accessed" in text
    assert f"Incident {incident_id}," not in text


def test_the_api_cursor_is_a_public_id_and_pages_through_what_the_reader_may_see(
    app: Flask, add_incident: Callable[..., int]
) -> None:
    made = [
        add_incident(
            f"Incident {n}", status="draft" if n % 3 == 1 else "published", start_date=f"2023-01-{n + 1:02}"
        )
        for n in range(8)
    ]
    published = {public_id(app, i) for n, i in enumerate(made) if n % 3 != 1}
    client = app.test_client()
    seen: list[str] = []
    cursors: list[str] = []
    url = "/api/v1/incidents?limit=2"
    while url:
        body = client.get(url).get_json()
        seen += [record["id"] for record in body["incidents"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        cursors.append(cursor)
        url = f"/api/v1/incidents?limit=2&cursor={cursor}"
    assert sorted(seen) == sorted(published) and len(seen) == len(set(seen))
    # Each cursor is the public id of the last record of its page: opaque, no count in it.
    assert all(is_public_id(cursor) and cursor in published for cursor in cursors)
    for bad in ("zzzzzzzzzzzz", "after:3", "3", "YWZ0ZXI6Mw"):  # the last: base64 of the old "after:3"
        answer = client.get(f"/api/v1/incidents?cursor={bad}")
        assert answer.status_code == 400 and "cursor" in answer.get_json()["errors"], bad


def test_an_import_gives_each_incident_its_own_public_id_even_when_a_draw_is_taken(
    app: Flask, runner: FlaskCliRunner, add_incident: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = public_id(app, add_incident("Entered by hand"))
    fresh = (new_public_id() for _ in itertools.count())
    # The first ids drawn are one already stored and the same twice: the import must draw again.
    draws = itertools.chain([taken, taken], fresh)
    monkeypatch.setattr(import_ids, "new_public_id", lambda: next(draws))
    result = run_import(runner, FIXTURES / "ucdp_ged.csv", "--publish")
    assert result.exit_code == 0, result.output
    with app.app_context():
        stored = list(db.session.scalars(sa.select(Incident.public_id)))
    assert len(stored) > 2 and len(set(stored)) == len(stored)
    assert all(is_public_id(value) for value in stored)


def test_the_url_converter_refuses_to_build_a_numbered_incident_url(app: Flask) -> None:
    with app.test_request_context(), pytest.raises(ValueError, match="not a public id"):
        app.url_for("incidents.incident_detail", ref=7)
    assert public_ids.PATTERN  # the converter's pattern is the domain's

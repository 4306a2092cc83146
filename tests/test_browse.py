"""Browsing the incident list: filters, pagination, audiences."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from incidents.public_ids import ALPHABET, LETTERS
from tests.helpers import page

# A link to an incident's page, by its public id as the app writes it (lower case).
LINK = re.compile(rf'<a href="/incidents/[{LETTERS}][{ALPHABET}]{{11}}">([^<]+)</a>')


def titles(client: FlaskClient, query: str = "") -> list[str]:
    response = client.get("/incidents/" + query)
    assert response.status_code == 200
    return LINK.findall(response.get_data(as_text=True))


def test_filters(client: FlaskClient, add_incident: Callable[..., int]) -> None:
    add_incident("Juliaca killings", admin1="Puno", place_name="Juliaca")
    add_incident("Ayacucho killings", admin1="Ayacucho", start_date="2022-12-15")
    add_incident(
        "Puno curfew",
        admin1="Puno",
        types=["curfew"],
        start_date="2023-01-10",
        end_date="2023-01-13",
        date_precision="span",
    )
    add_incident("La Paz raid", country="BO", types=["raid"], start_date="2023-03-01")
    assert sorted(titles(client)) == ["Ayacucho killings", "Juliaca killings", "La Paz raid", "Puno curfew"]
    assert titles(client, "?admin1=puno") == ["Puno curfew", "Juliaca killings"]
    assert titles(client, "?type=curfew") == ["Puno curfew"]
    assert sorted(titles(client, "?type=curfew&type=raid")) == ["La Paz raid", "Puno curfew"]
    assert titles(client, "?country=bo") == ["La Paz raid"]
    assert titles(client, "?q=JULIACA") == ["Juliaca killings"]
    assert titles(client, "?q=100%25") == []
    # a curfew that began before the range and lasted into it is in the range
    assert titles(client, "?date_from=2023-01-12&date_to=2023-01-31") == ["Puno curfew"]
    assert titles(client, "?date_to=2022-12-31") == ["Ayacucho killings"]


def test_count_and_pagination(app: Flask, client: FlaskClient, add_incident: Callable[..., int]) -> None:
    app.config["INCIDENTS_PER_PAGE"] = 2
    for day in range(1, 6):
        add_incident(f"Incident {day}", start_date=dt.date(2023, 1, day).isoformat())
    listing = client.get("/incidents/").get_data(as_text=True)
    assert "5 incidents" in listing and "Page 1 of 3" in listing
    assert titles(client, "?page=3") == ["Incident 1"]
    assert titles(client, "?page=99") == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?date_from=2023-13-01", "Not a valid date."),
        ("?country=Peru", "is not an ISO 3166-1 alpha-2 country code"),
        ("?date_from=2023-02-01&date_to=2023-01-01", "Must not be before the start of the range."),
        ("?page=0", "Must be greater than or equal to 1"),
    ],
)
def test_bad_filters_get_400_with_message(client: FlaskClient, query: str, message: str) -> None:
    response = client.get("/incidents/" + query)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_status_filter_is_for_staff(
    client: FlaskClient, editor_client: FlaskClient, add_incident: Callable[..., int]
) -> None:
    add_incident("Draft one", status="draft")
    add_incident("Published one")
    assert titles(editor_client, "?status=draft") == ["Draft one"]


def test_public_cannot_see_drafts_even_asking_for_them(app: Flask, add_incident: Callable[..., int]) -> None:
    draft = add_incident("Draft one", status="draft")
    add_incident("Retracted one", status="retracted")
    public = app.test_client()
    assert titles(public, "?status=draft") == []
    assert titles(public) == []
    assert public.get(page(app, draft)).status_code == 404
    assert public.get(f"/incidents/{draft}").status_code == 404

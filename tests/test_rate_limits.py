"""Rate limits on the public's costly requests (web.rate_limits), counted in the database that every worker
shares (web.limit_storage): 429 with Retry-After as a page or a problem; accounts not limited; a second
instance, or a second process, sees the counts of the first, login attempts included (issue 15)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from incidents import create_app
from incidents.config import ConfigurationError
from incidents.extensions import db
from incidents.models import RateLimitCounter
from tests.helpers import another_instance, database_held, login

PROBLEM = "application/problem+json"
ROOT = Path(__file__).resolve().parent.parent
WRONG = "wrong password 123"


def searches(client: FlaskClient, count: int, url: str = "/incidents/?q=Juliaca") -> list[int]:
    return [client.get(url).status_code for _ in range(count)]


def assert_limited_page(response: Any, message: str) -> None:
    assert response.status_code == 429, response.data
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    text = response.get_data(as_text=True)
    assert message in text and "You can try again in" in text


def assert_limited_problem(response: Any, window: int = 60) -> None:
    assert response.status_code == 429, response.data
    assert response.mimetype == PROBLEM
    assert 1 <= int(response.headers["Retry-After"]) <= window
    problem = response.json
    assert problem["type"].endswith("/rate-limited") and problem["status"] == 429
    assert "Too many" in problem["detail"]


def counter_rows(app: Flask) -> list[tuple[str, int]]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(sa.select(RateLimitCounter.key_digest, RateLimitCounter.count))
        ]


@pytest.mark.app_config({"SEARCH_RATE_LIMIT": "3 per minute"})
def test_searches_past_the_limit_get_a_429_page_saying_when_to_try_again(
    app: Flask, client: FlaskClient
) -> None:
    # Browsing the list and the map without a search text is not counted, nor written anywhere.
    assert searches(client, 5, "/incidents/") == [200] * 5
    assert searches(client, 2, "/") == [200] * 2
    assert counter_rows(app) == []
    # Searches are, the timeline with them, in one count.
    assert searches(client, 2) == [200, 200]
    assert client.get("/timeline").status_code == 200
    assert_limited_page(client.get("/?q=Juliaca"), "Too many searches from your address")
    assert_limited_page(client.get("/timeline"), "Too many searches from your address")
    # Another address has its own count.
    other = client.get("/incidents/?q=Juliaca", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


@pytest.mark.app_config(
    {
        "API_RATE_LIMIT": "2 per minute",
        "MAP_DATA_RATE_LIMIT": "2 per minute",
        "EXPORT_RATE_LIMIT": "1 per hour",
    }
)
def test_programs_past_a_limit_get_a_429_problem(client: FlaskClient) -> None:
    assert searches(client, 2, "/api/v1/incidents") == [200, 200]
    assert_limited_problem(client.get("/api/v1/sources"))  # the API's lists are counted together
    assert searches(client, 2, "/map/data.geojson") == [200, 200]
    assert_limited_problem(client.get("/map/data.geojson"))
    assert client.get("/export.csv").status_code == 200
    assert_limited_problem(client.get("/export.json"), window=3600)


@pytest.mark.app_config(
    {"SEARCH_RATE_LIMIT": "2 per minute", "API_RATE_LIMIT": "2 per minute", "EXPORT_RATE_LIMIT": "1 per hour"}
)
def test_accounts_are_not_limited(app: Flask, editor_client: FlaskClient, token: str) -> None:
    counted_at_login = counter_rows(app)
    assert searches(editor_client, 5) == [200] * 5
    assert searches(editor_client, 3, "/timeline") == [200] * 3
    assert searches(editor_client, 3, "/export.csv") == [200] * 3
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert [api.get("/api/v1/incidents", headers=bearer).status_code for _ in range(5)] == [200] * 5
    assert counter_rows(app) == counted_at_login  # nothing written for them either
    # Without the token, the same client is the public.
    assert searches(api, 3, "/api/v1/incidents") == [200, 200, 429]


@pytest.mark.app_config({"SEARCH_RATE_LIMIT": "3 per minute"})
def test_a_second_instance_on_the_same_database_sees_the_counts_of_the_first(
    app: Flask, client: FlaskClient
) -> None:
    assert searches(client, 3) == [200] * 3
    with another_instance(app) as second:
        assert_limited_page(second.test_client().get("/incidents/?q=Juliaca"), "Too many searches")


@pytest.mark.app_config({"LOGIN_RATE_LIMIT": "3 per 5 minutes"})
def test_failed_logins_are_counted_across_instances(app: Flask, make_user: Callable[..., Any]) -> None:
    """Two workers grant a client its ten failed logins in all, not ten each."""
    make_user("ana@example.org")
    assert [login(app.test_client(), "ana@example.org", WRONG).status_code for _ in range(3)] == [401] * 3
    with another_instance(app) as second:
        refused = login(second.test_client(), "ana@example.org")  # even with the right password
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.get_data(as_text=True)
    assert 1 <= int(refused.headers["Retry-After"]) <= 300


# Another worker: a process of its own making the app on the same database, trying wrong passwords.
ANOTHER_PROCESS = """
import json, sys
from incidents import create_app
settings, email, attempts = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
client = create_app(settings).test_client()
data = {"email": email, "password": "wrong password 123"}
print(json.dumps([client.post("/login", data=data).status_code for _ in range(attempts)]))
"""
SHARED_SETTINGS = (
    "TESTING",
    "SECRET_KEY",
    "SQLALCHEMY_DATABASE_URI",
    "WTF_CSRF_ENABLED",
    "PASSWORD_HASH_PROFILE",
    "LOGIN_RATE_LIMIT",
    "LOGIN_ATTEMPT_LIMIT",
    "TILE_URL",
    "IMPORT_FOLDER",
)


def failed_logins_in_another_process(app: Flask, email: str, attempts: int) -> list[int]:
    settings = json.dumps({name: app.config[name] for name in SHARED_SETTINGS})
    done = subprocess.run(  # noqa: S603 - this interpreter, with the script and arguments above
        [sys.executable, "-c", ANOTHER_PROCESS, settings, email, str(attempts)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    statuses: list[int] = json.loads(done.stdout.strip().splitlines()[-1])
    return statuses


@pytest.mark.app_config({"LOGIN_RATE_LIMIT": "4 per 5 minutes"})
def test_failed_logins_in_another_process_count_here(app: Flask, make_user: Callable[..., Any]) -> None:
    make_user("ana@example.org")
    assert login(app.test_client(), "ana@example.org", WRONG).status_code == 401
    assert failed_logins_in_another_process(app, "ana@example.org", 3) == [401] * 3
    assert login(app.test_client(), "ana@example.org").status_code == 429
    # And the other way round: what this process counted, the other sees.
    assert failed_logins_in_another_process(app, "ana@example.org", 1) == [429]


@pytest.mark.app_config({"SEARCH_RATE_LIMIT": "10 per minute"})
def test_searches_sent_at_once_are_counted_exactly(app: Flask) -> None:
    """Each count is one statement: twenty searches from four threads at once, ten answered, ten refused."""
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def search_five() -> None:
        client = app.test_client()
        barrier.wait()
        found = searches(client, 5)
        statuses.extend(found)

    threads = [threading.Thread(target=search_five) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 10 + [429] * 10


@pytest.mark.app_config({"SEARCH_RATE_LIMIT": "2 per 1 second"})
def test_a_count_starts_again_when_its_window_ends(client: FlaskClient) -> None:
    assert searches(client, 3) == [200, 200, 429]
    time.sleep(1.2)
    assert searches(client, 3) == [200, 200, 429]


@pytest.mark.app_config({"SEARCH_RATE_LIMIT": "1 per minute", "DATABASE_BUSY_TIMEOUT": 0.2})
def test_a_busy_database_lets_searches_through_uncounted_and_says_so_in_the_log(
    app: Flask, client: FlaskClient, add_incident: Callable[..., int], caplog: pytest.LogCaptureFixture
) -> None:
    add_incident("Killings at the Juliaca bridge")
    with caplog.at_level(logging.WARNING), database_held(app, tables=("rate_limit_counters",)):
        started = time.monotonic()
        answers = [client.get("/incidents/?q=Juliaca") for _ in range(2)]
        waited = time.monotonic() - started
    assert [answer.status_code for answer in answers] == [200, 200]
    assert all("Killings at the Juliaca bridge" in answer.get_data(as_text=True) for answer in answers)
    assert "rate limit not counted: the database is busy" in caplog.text
    assert waited < 5
    # Counted again once the database is free.
    assert searches(client, 2) == [200, 429]


@pytest.mark.app_config({"LOGIN_RATE_LIMIT": "5 per 5 minutes", "SEARCH_RATE_LIMIT": "5 per minute"})
def test_counts_keep_neither_addresses_nor_email_addresses(app: Flask, client: FlaskClient) -> None:
    login(client, "someone.typing@example.org", WRONG)
    searches(client, 1)
    rows = counter_rows(app)
    assert rows and all(len(digest) == 64 and int(digest, 16) >= 0 for digest, _count in rows)
    with app.app_context():
        dumped = repr(list(db.session.execute(sa.select(RateLimitCounter.__table__))))
    assert "someone.typing" not in dumped and "127.0.0.1" not in dumped


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("SEARCH_RATE_LIMIT", "often", "SEARCH_RATE_LIMIT: 'often' is not a rate limit"),
        ("LOGIN_RATE_LIMIT", "", "LOGIN_RATE_LIMIT: '' is not a rate limit"),
        ("RATELIMIT_STORAGE_URI", "nosuch://here", "RATELIMIT_STORAGE_URI: unknown storage scheme"),
    ],
)
def test_a_limit_or_a_store_that_cannot_be_used_is_refused_at_start(
    tmp_path: Path, setting: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"^{message}"):
        create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "t",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
                setting: value,
            }
        )


@pytest.mark.app_config({"SEARCH_RATE_LIMIT": "5 per minute", "DATABASE_BUSY_TIMEOUT": 3})
def test_a_count_leaves_a_connection_as_it_found_it(app: Flask, client: FlaskClient) -> None:
    """On SQLite a count waits half a second and commits without waiting for the disk: for its own
    transaction only. Every connection in the pool then waits the busy timeout and commits as it did."""
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's connection settings")
        with db.engine.connect() as connection:
            usual = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    assert searches(client, 3) == [200] * 3
    with app.app_context(), contextlib.ExitStack() as stack:
        connections = [stack.enter_context(db.engine.connect()) for _ in range(3)]  # the pool's, and more
        for connection in connections:
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 3000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == usual

"""The production setup: gunicorn with incidents/gunicorn_conf.py in production, and the app behind a reverse
proxy (README, Deployment)."""

from __future__ import annotations

import pytest
from flask import Flask

WRONG = "wrong password 123"


# -- behind a proxy ------------------------------------------------------------------------------------------


def _failed_logins(app: Flask, forwarded_for: str, count: int) -> list[int]:
    """count failed logins, each for another account, through a proxy that says the client is forwarded_for
    (all of them reach the app from the proxy's one address)."""
    return [
        app.test_client()
        .post(
            "/login",
            data={"email": f"someone-{i}@example.org", "password": WRONG},
            headers={"X-Forwarded-For": forwarded_for},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
        )
        .status_code
        for i in range(count)
    ]


@pytest.mark.app_config({"PROXY_COUNT": 1})
def test_behind_a_proxy_login_throttling_counts_each_client_apart(app: Flask) -> None:
    app.config["LOGIN_RATE_LIMIT"] = "3 per 5 minutes"
    assert _failed_logins(app, "203.0.113.7", 4) == [401, 401, 401, 429]
    # Another client behind the same proxy is not throttled for the first one's failures.
    assert _failed_logins(app, "198.51.100.20", 1) == [401]


def test_without_a_proxy_a_forwarded_for_header_is_not_believed(app: Flask) -> None:
    """Anyone can send X-Forwarded-For: a client reached directly cannot escape throttling by changing it."""
    app.config["LOGIN_RATE_LIMIT"] = "3 per 5 minutes"
    assert _failed_logins(app, "203.0.113.7", 3) == [401, 401, 401]
    assert _failed_logins(app, "198.51.100.20", 1) == [429]

"""The README documents every command and setting, so the docs cannot silently fall behind the code."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from incidents.config import DEFAULTS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
UNDOCUMENTED_DEFAULTS = {
    # Flask and extension settings whose defaults we only set, not expose
    "SQLALCHEMY_ENGINE_OPTIONS",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_HTTPONLY",
    "PERMANENT_SESSION_LIFETIME",
    "WTF_CSRF_TIME_LIMIT",
    "GEOCODER_USER_AGENT",
    "GEOCODER_NOMINATIM_DOMAIN",
}


def test_readme_starts_with_the_two_commands() -> None:
    block = README.split("```")[1]
    assert block.strip().splitlines()[1].startswith("make run")
    assert block.strip().splitlines()[2].startswith("make test")


def test_every_command_is_documented(app: Flask) -> None:
    ours = {"create-user", "load-demo"}
    registered = set(app.cli.list_commands(None))  # type: ignore[arg-type]
    assert ours <= registered
    for name in registered - {"routes", "shell", "run"}:
        if name == "db":
            assert "`db upgrade`" in README
            continue
        assert f"`{name}" in README, f"command {name} is not in the README"


def test_every_setting_is_documented() -> None:
    for name in set(DEFAULTS) - UNDOCUMENTED_DEFAULTS:
        assert f"`{name}`" in README, f"setting {name} is not in the README"
    for name in ("GEOCODER_USER_AGENT", "GEOCODER_NOMINATIM_DOMAIN", "DATABASE_URL"):
        assert name in README

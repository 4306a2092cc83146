"""Templates, static files and migrations are in the package; the instance folder is chosen as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

import incidents
from incidents import MIGRATIONS_DIR, create_app

CHECKOUT = Path(__file__).resolve().parent.parent
CONFIG = {"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": "sqlite://"}


def test_templates_static_and_migrations_are_package_data() -> None:
    app = create_app(CONFIG)
    package = Path(incidents.__file__).resolve().parent
    assert app.template_folder is not None and app.static_folder is not None
    assert Path(app.root_path, app.template_folder) == package / "templates"
    assert (package / "templates" / "base.html").is_file()
    assert Path(app.static_folder) == package / "static"
    assert package / "migrations" == MIGRATIONS_DIR
    assert (MIGRATIONS_DIR / "env.py").is_file()


def test_instance_folder_in_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INCIDENTS_INSTANCE_PATH", raising=False)
    assert create_app(CONFIG).instance_path == str(CHECKOUT / "instance")


def test_instance_folder_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INCIDENTS_INSTANCE_PATH", str(tmp_path / "data"))
    assert create_app(CONFIG).instance_path == str(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("INCIDENTS_INSTANCE_PATH", "relative")
    assert create_app(CONFIG).instance_path == str(tmp_path / "relative")


@pytest.mark.parametrize("pyproject", [None, '[project]\nname = "another"\n', "not toml ["])
def test_installed_package_gets_flasks_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pyproject: str | None
) -> None:
    """Beside an installed package (site-packages) there is no pyproject.toml of this project."""
    monkeypatch.delenv("INCIDENTS_INSTANCE_PATH", raising=False)
    (tmp_path / "incidents").mkdir()
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    monkeypatch.setattr(incidents, "PACKAGE_DIR", tmp_path / "incidents")
    assert incidents._checkout_root() is None
    assert incidents._instance_path() is None  # Flask then uses <sys.prefix>/var/incidents-instance

"""The suite's own layout: no test module imports another test module or conftest.

pytest imports each test module under its own name (test_exports); an import of tests.test_exports runs the
module a second time, as another module, with its own module-level state, and a test function imported so
is collected twice. It also ties one test module's tests to another's internals. What tests share lives in
tests/factories.py (data) and tests/helpers.py (actions and reads), and shared fixtures in tests/conftest.py,
which pytest gives every test without an import.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _is_test_module(name: str) -> bool:
    return name == "conftest" or name.startswith("test_")


def imported_test_modules(path: Path) -> list[str]:
    """The test modules (and conftest) the module at path imports, however it spells the import."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level == 0 and base not in ("tests", ""):
                names = [base]
            else:  # `from tests import x`, `from . import x`, `from .x import y`
                names = [f"{base}.{alias.name}" if base else alias.name for alias in node.names]
                if node.level and base:
                    names = [base]
        else:
            continue
        found.extend(name for name in names if _names_a_test_module(name))
    return found


def _names_a_test_module(name: str) -> bool:
    """tests.test_x, tests.conftest, and the bare names pytest's rootdir-relative sys.path would allow."""
    parts = name.split(".")
    if parts[0] == "tests":
        return len(parts) > 1 and _is_test_module(parts[1])
    return _is_test_module(parts[0]) and (TESTS / f"{parts[0]}.py").exists()


def test_no_module_of_the_suite_imports_a_test_module_or_conftest() -> None:
    offenders = {
        path.name: imported_test_modules(path)
        for path in sorted(TESTS.glob("*.py"))
        if imported_test_modules(path)
    }
    assert not offenders, "these modules import test modules or conftest: " + "; ".join(
        f"{module} imports {', '.join(names)}" for module, names in offenders.items()
    )


def test_the_check_sees_every_spelling_of_such_an_import(tmp_path: Path) -> None:
    package = "tests"  # spelt apart, so that grepping the suite for such imports finds none here either
    spellings = {
        f"from {package}.test_exports import export_json": [f"{package}.test_exports"],
        f"from {package}.conftest import login": [f"{package}.conftest"],
        f"import {package}.test_exports": [f"{package}.test_exports"],
        "from tests import conftest, helpers": ["tests.conftest"],
        "from test_exports import export_json": ["test_exports"],
        "import conftest": ["conftest"],
        "from .test_exports import export_json": ["test_exports"],
        "from . import test_exports": ["test_exports"],
        "from tests.helpers import login\nfrom tests import factories": [],
    }
    for source, expected in spellings.items():
        module = tmp_path / "module.py"
        module.write_text(source + "\n", encoding="utf-8")
        assert imported_test_modules(module) == expected, source

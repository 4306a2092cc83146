# Two commands for a fresh machine with python3 (3.11+) and make:
#   make run    set up a virtualenv, build the database, load the demo data, serve on 127.0.0.1:$(PORT)
#   make test   set up the virtualenv and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
# The test suite runs on this many processes (pytest-xdist; "auto": one per core, 0: in this process alone),
# sharing the tests out as PYTEST_DIST says (see README, Development).
PYTEST_WORKERS ?= auto
PYTEST_DIST ?= worksteal
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app incidents

.PHONY: run test lint typecheck check wheel-check bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(FLASK) db upgrade
	$(FLASK) load-demo --if-empty --publish
	$(FLASK) run --host 127.0.0.1 --port $(PORT)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist $(PYTEST_DIST) $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check incidents tests bench
	$(BIN)/ruff format --check incidents tests bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

check: lint typecheck test

# Build a wheel, install it into a fresh virtualenv outside the checkout, and run the installed app.
wheel-check: $(VENV)/.installed
	PYTHON=$(PYTHON) BUILD_PYTHON=$(abspath $(BIN))/python .ci/wheel-check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Two commands for a fresh machine with python3 (3.11+) and make:
#   make run    set up a virtualenv, build the database, load the demo data, serve on 127.0.0.1:$(PORT)
#   make test   set up the virtualenv and run the whole test suite
# and one for production (README, Deployment):
#   make serve  set up the virtualenv, migrate the database, serve with gunicorn in production
PYTHON ?= python3
VENV ?= .venv
PORT ?= 5000
# Where `make serve` listens: this machine only, for a reverse proxy in front of it.
GUNICORN_BIND ?= 127.0.0.1:$(PORT)
# The test suite runs on this many processes (pytest-xdist; "auto": one per core, 0: in this process alone),
# sharing the tests out as PYTEST_DIST says (see README, Development).
PYTEST_WORKERS ?= auto
PYTEST_DIST ?= worksteal
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app incidents

.PHONY: run serve test lint typecheck check wheel-check bench clean

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

# Production: ENVIRONMENT=production, which needs SECRET_KEY and PUBLIC_BASE_URL (from INCIDENTS_* variables
# or instance/config.py). The settings are checked first, saying what is missing; then the migrations run
# (once per release, whatever the number of instances) and gunicorn serves, with incidents/gunicorn_conf.py
# (WEB_CONCURRENCY, GUNICORN_THREADS, GUNICORN_TIMEOUT …). No demo data.
serve: export INCIDENTS_ENVIRONMENT = production
serve: export GUNICORN_BIND := $(GUNICORN_BIND)
serve: $(VENV)/.installed
	@$(BIN)/python -m incidents.gunicorn_conf
	$(FLASK) db upgrade
	exec $(BIN)/gunicorn --config python:incidents.gunicorn_conf 'incidents:create_app()'

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

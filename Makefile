# courier-hub: `make run` serves the API, `make test` runs the suite.
# Needs only Python >= 3.11 and pip; PostgreSQL is embedded unless DATABASE_URL is set.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# pytest-xdist processes for `make test` (each gets its own database on the same server).
TEST_WORKERS ?= 2

.PHONY: install run worker test migrate doctor admin-key loadtest clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install  ## install, start embedded PostgreSQL (if DATABASE_URL unset), migrate, serve on :8000 (PORT overrides)
	$(BIN)/courier-hub serve --migrate

worker: install  ## the worker next to `make run` (webhook deliveries, scheduled tracking refresh, maintenance)
	$(BIN)/courier-hub worker

test: install  ## the whole suite against a real PostgreSQL (embedded, or TEST_DATABASE_URL), in TEST_WORKERS processes
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup

migrate: install
	$(BIN)/courier-hub migrate

doctor: install
	$(BIN)/courier-hub doctor

admin-key: install
	$(BIN)/courier-hub create-admin-key --name "$${NAME:-local admin}"

clean:
	rm -rf $(VENV) .data .pytest_cache

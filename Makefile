# Two commands for a fresh clone (Python 3.11+ is the only prerequisite):
#   make run   - create .venv, install, migrate and serve the embedded default at http://localhost:8080/fhir
#   make test  - create .venv, install test and ML dependencies and run the whole suite
# and, before a commit:
#   make check - ruff (lint and format) and mypy on the product packages
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# Every install is held to the versions the suite last passed on (regenerate with `make lock`).
CONSTRAINTS := constraints.txt
EXTRAS := test,ml,dev

.PHONY: install run test check lock bench clean

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[$(EXTRAS)]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/fhir-server serve --host 0.0.0.0 --port 8080

test: install
	FHIR_SERVER_TEST_POSTGRES_URL=$${FHIR_SERVER_TEST_POSTGRES_URL:-$(POSTGRES_URL)} $(BIN)/python -m pytest -q

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Resolve the newest versions pyproject.toml allows in a scratch venv and pin them;
# run `make test` after it, and commit constraints.txt only if that passes.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e '.[$(EXTRAS)]'
	( echo '# Versions the suite passes on; `make lock` regenerates this file.'; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable ) > $(CONSTRAINTS)
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

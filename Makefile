# Two commands for a fresh clone (Python 3.11+ is the only prerequisite):
#   make run   - create .venv, install, migrate and serve the embedded default at http://localhost:8080/fhir
#   make test  - create .venv, install test and ML dependencies and run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
POSTGRES_URL ?= postgresql+psycopg2://postgres@127.0.0.1:5432/postgres

.PHONY: install run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,ml]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/fhir-server serve --host 0.0.0.0 --port 8080

test: install
	FHIR_SERVER_TEST_POSTGRES_URL=$${FHIR_SERVER_TEST_POSTGRES_URL:-$(POSTGRES_URL)} $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache

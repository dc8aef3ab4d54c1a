# Two commands matter: `make demo` (whole pipeline on the bundled sample) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint wheel bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11+ and Java 17 are required)"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[azure,dev]'
	touch $(STAMP)

## setup: create .venv, install the package, resolve the Delta JARs into the local cache
setup: $(STAMP)
	$(VENV)/bin/fhir-anonymizer setup

## demo: export from the built-in FHIR test server -> de-identify -> verify -> report, on the sample data
demo: setup
	$(VENV)/bin/fhir-anonymizer run --demo --output demo-output

## test: set up and run the whole test suite
test: setup
	@if [ -x scripts/install-azurite.sh ]; then scripts/install-azurite.sh; fi
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## wheel: build the wheel that spark-submit and Databricks jobs ship
wheel: setup
	$(PY) -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) dist build demo-output .pytest_cache

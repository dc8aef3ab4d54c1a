# Two commands matter: `make demo` (whole pipeline on the bundled sample) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The local default pair of the support matrix (README, "Where it runs"); the wheel itself declares no Spark.
SPARK_PINS := pyspark==4.2.0 delta-spark==4.4.0
# The Spark 3.5 LTS line (Databricks 15.4/16.4 LTS, Fabric 1.3, Synapse 3.5), with the oldest pandas/pyarrow
# the supported runtimes ship: installed first, as on a runtime, then the package must leave them alone.
VENV35 := .venv-spark35
SPARK35_PINS := pyspark==3.5.3 delta-spark==3.2.1 pandas==1.5.3 pyarrow==14.0.1 numpy==1.26.4
STAMP35 := $(VENV35)/.installed
# What the Spark 3.5 environment runs: end-to-end deidentify -> verify, incremental runs, bad input.
# (tests/matrix: deidentify -> verify in json format, and variant refused where Spark has no parse_json.)
MATRIX_TESTS := tests/spark/test_deidentify.py::test_reconciles_quarantines_bad_lines_and_joins \
	tests/spark/test_deidentify.py::test_rerun_is_idempotent_and_incremental_upserts_and_deletes tests/matrix

.PHONY: setup demo test test-main test-fast test-spark35 typecheck lint wheel bench clean

define check_tools
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (Python 3.11+ and Java 17 are required)"; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: install a JDK 17 (e.g. apt-get install openjdk-17-jre-headless)"; exit 1; }
endef

$(STAMP): pyproject.toml Makefile
	$(check_tools)
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[spark,connect,azure,dev]' $(SPARK_PINS)
	touch $(STAMP)

$(STAMP35): pyproject.toml Makefile
	$(check_tools)
	test -d $(VENV35) || $(PYTHON) -m venv $(VENV35)
	$(VENV35)/bin/python -m pip install -q --upgrade pip
	$(VENV35)/bin/python -m pip install -q $(SPARK35_PINS)
	$(VENV35)/bin/python -m pip install -q -e '.[spark]' 'pytest>=8' 'chispa>=0.10'
	$(VENV35)/bin/python scripts/check_pins.py $(SPARK35_PINS)
	touch $(STAMP35)

## setup: create .venv, install the package, resolve the Delta JARs into the local cache
setup: $(STAMP)
	$(VENV)/bin/fhir-anonymizer setup

## demo: export from the built-in FHIR test server -> de-identify -> verify -> report, on the sample data
demo: setup
	$(VENV)/bin/fhir-anonymizer run --demo --output demo-output

## test: set up and run the whole test suite, then the Spark 3.5 end-to-end tests in their own venv
test: test-main test-spark35

test-main: setup typecheck
	@if [ -x scripts/install-azurite.sh ]; then scripts/install-azurite.sh; fi
	$(PY) -m pytest -q --durations=25

## test-fast: the tests that start no JVM (no `spark` marker; the conftest hook marks every user of the session)
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not spark"

## typecheck: mypy over anonymizer/ ([tool.mypy] in pyproject.toml)
typecheck: $(STAMP)
	$(VENV)/bin/mypy

## test-spark35: end-to-end tests on pyspark 3.5 + delta-spark 3.2 (a second venv, .venv-spark35)
test-spark35: $(STAMP35)
	$(VENV35)/bin/fhir-anonymizer setup
	$(VENV35)/bin/python -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning $(MATRIX_TESTS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## wheel: build the wheel that spark-submit and Databricks jobs ship
wheel: setup
	$(PY) -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) $(VENV35) dist build demo-output .pytest_cache

"""Shared fixtures: one session-scoped local Spark with Delta, and paths to the bundled data."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = REPO_ROOT / "examples" / "synthea-10-patients"
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# Python workers started by Spark must import this checkout's package.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository root."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled 10-patient Synthea bulk export."""
    return EXAMPLES


#: The in-process session evaluates expressions without generated Java: on the tests' few rows, compiling code for
#: every new plan costs more than it saves (39 Spark tests, two runs each: 266, 244 s -> 217, 201 s). Spark's interpreted and generated paths
#: give the same results by contract; the tests in their own processes (spark-submit jobs, notebook, Spark Connect,
#: the CLI's Java failure), the Spark 3.5 matrix run and `make demo` keep the default code generation, so it stays
#: exercised end to end.
INTERPRETED_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@pytest.fixture(scope="session")
def connect_url() -> Iterator[str]:
    """One local Spark Connect server (127.0.0.1) for every test that uses it; stopped at the end of the run."""
    from tests.connect_server import connect_server

    with connect_server() as url:
        yield url


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One local[1] Spark session with Delta for the whole test run (UI off, UTC, 1 shuffle partition)."""
    from anonymizer.spark.session import local_session
    from anonymizer.spark.settings import TEST_CONF

    warehouse = tmp_path_factory.mktemp("warehouse")
    interpreted = {} if metadata.version("pyspark").startswith("3.") else INTERPRETED_CONF
    session = local_session(
        "local[1]",
        app_name="anonymizer-tests",
        extra_layers=(TEST_CONF, interpreted, {"spark.sql.warehouse.dir": str(warehouse)}),
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ``spark`` marker on every test that uses the session, directly or through other fixtures, so
    ``-m "not spark"`` (``make test-fast``) starts no JVM. Tests that start one in a subprocess are marked by hand."""
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
